"""``videolens watch``: live cameras analyzed in real time, with rules, events, alarms, clips and a live page
(docs/watch.md). Built on the analyzer contract of :mod:`videolens.core`: the same analyzers as files.
"""
