#!/usr/bin/env python3
"""Reads "barcode<TAB>svg" lines on stdin, rasterises each ITF-25 SVG (its bars are plain
<rect> elements, so a few lines of Pillow suffice) and decodes the image with zxing-cpp,
a barcode reader we did not write. Prints one JSON result per line: ok when the decoded
text equals the barcode."""
import json
import re
import sys

import zxingcpp
from PIL import Image, ImageDraw

SCALE = 3  # pixels per module
RECT = re.compile(r'<rect x="(\d+)" y="0" width="(\d+)"')
VIEWBOX = re.compile(r'viewBox="0 0 (\d+) ')

for line in sys.stdin:
    barcode, _, svg = line.rstrip("\n").partition("\t")
    if not barcode:
        continue
    try:
        width = int(VIEWBOX.search(svg).group(1))
        image = Image.new("L", (width * SCALE, 60 * SCALE), 255)
        draw = ImageDraw.Draw(image)
        for x, w in RECT.findall(svg):
            x, w = int(x), int(w)
            draw.rectangle([x * SCALE, 0, (x + w) * SCALE - 1, image.height - 1], fill=0)
        found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.ITF)
        text = found[0].text if found else None
        result = {"ok": text == barcode, "decoded": text}
    except Exception as error:
        result = {"ok": False, "error": f"{type(error).__name__}: {error}"}
    print(json.dumps(result))
