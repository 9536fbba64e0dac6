#!/usr/bin/env python3
"""Reads "payload<TAB>base64 png" lines on stdin and decodes each PNG QR code with zxing-cpp, a reader we did not
write. Prints one JSON result per line: ok when the decoded text equals the payload."""
import base64
import io
import json
import sys

import zxingcpp
from PIL import Image

for line in sys.stdin:
    payload, _, png = line.rstrip("\n").partition("\t")
    if not payload:
        continue
    try:
        image = Image.open(io.BytesIO(base64.b64decode(png)))
        found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
        text = found[0].text if found else None
        print(json.dumps({"ok": text == payload, "decoded": text}))
    except Exception as e:  # a broken image is a failure, not a crash
        print(json.dumps({"ok": False, "error": str(e)}))
