"""Ban Cơ yếu's VGCA Sign Service protocol (``vgcaplugin.js``) on ``wss://127.0.0.1:8987``.

* :mod:`.protocol` — the requests and replies, their parsing, the Status table;
* :mod:`.transfer` — downloads and uploads for the portal, with the SSRF rules;
* :mod:`.endpoints` — which signature each endpoint makes, and the flow (:mod:`.file_list`:
  SignFile's list of files; :mod:`.verify`: VerifyMsg's check);
* :mod:`.settings` — what the layer starts with: where signed files wait, the transfers' bounds;
* :mod:`.server` — the WebSocket application (Host, caller and Origin checks), which loads the
  three above with the first message; :mod:`.layer` — the layer as the agent starts it.

See ``docs/vgca-compat.md``.
"""
