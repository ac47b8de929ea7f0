"""Human-readable outputs: contact sheets, and (with ``videolens analyze``) the HTML report."""
