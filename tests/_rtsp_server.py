"""A real RTSP server for the live tests: GStreamer's gst-rtsp-server, run by the system python3 (Debian's
python3-gst-1.0 and gir1.2-gst-rtsp-server-1.0; the project's virtualenv has no GObject bindings).

    /usr/bin/python3 tests/_rtsp_server.py clip.mp4 8554        # rtsp://127.0.0.1:8554/test

The clip (H.264 in MP4) is sent as it is, without re-encoding, paced at its frame rate. Every client gets its own
pipeline from the clip's first frame; at the clip's end the stream ends (a client sees the camera drop and
reconnects, which replays it). It prints "ready" once it listens.
"""

import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

Gst.init(None)
path, port = sys.argv[1], sys.argv[2]
server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")
server.set_service(port)
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(f'( filesrc location="{path}" ! qtdemux ! h264parse config-interval=-1 '
                   "! rtph264pay name=pay0 pt=96 )")
factory.set_shared(False)
server.get_mount_points().add_factory("/test", factory)
if server.attach(None) == 0:
    sys.exit(f"cannot listen on 127.0.0.1:{port}")
print("ready", flush=True)
GLib.MainLoop().run()
