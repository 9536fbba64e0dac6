#!/usr/bin/env python3
"""Reads Pix BR Codes (one per line) on stdin and prints one JSON result per line, decoded by
starkbank-brcode, a parser we did not write. `jsonFromBrcode` raises on a bad CRC."""
import json
import sys

from brcode.utils.brcodeId import jsonFromBrcode

for line in sys.stdin:
    payload = line.rstrip("\n")
    if not payload:
        continue
    try:
        fields = jsonFromBrcode(payload)
        account = fields.get("26") or {}
        additional = fields.get("62") or {}
        txid = additional.get("05") if isinstance(additional, dict) else None
        result = {
            "ok": account.get("00", "").lower() == "br.gov.bcb.pix" and fields.get("53") == "986",
            "name": fields.get("59"),
            "city": fields.get("60"),
            "amount": fields.get("54"),
            "txid": None if txid == "***" else txid,
            "key": account.get("01"),
            "url": account.get("25"),
        }
    except Exception as error:  # the library signals every rejection by raising
        result = {"ok": False, "error": f"{type(error).__name__}: {error}"}
    print(json.dumps(result, ensure_ascii=False))
