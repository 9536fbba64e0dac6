// Reads Pix BR Codes or boleto linhas (one per line) on stdin and prints one JSON result per
// line, judged by libraries we did not write:
//   node check.mjs pix      → @brazilian-utils isValidPixPayload + getPixPayloadInfo
//   node check.mjs boleto   → @brazilian-utils isValidBoleto + getBoletoInfo, and
//                             boleto-brasileiro-validator boleto(x, true)
// A boleto line may carry "<TAB>YYYY-MM-DD": the reference date for the due-date factor cycle.
import { createInterface } from "node:readline";
import { createRequire } from "node:module";
import {
  getBoletoInfo,
  getPixPayloadInfo,
  isValidBoleto,
  isValidPixPayload,
} from "@brazilian-utils/brazilian-utils";

const require = createRequire(import.meta.url);
const { boleto: bbvBoleto } = require("boleto-brasileiro-validator");

const mode = process.argv[2];
if (mode !== "pix" && mode !== "boleto") {
  console.error("usage: node check.mjs pix|boleto < inputs");
  process.exit(2);
}

const ymd = (d) =>
  `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;

function checkPix(payload) {
  const info = getPixPayloadInfo(payload);
  return {
    ok: isValidPixPayload(payload) && info !== null,
    name: info?.merchantName ?? null,
    city: info?.merchantCity ?? null,
    // getPixPayloadInfo returns a JS number; two places is exact for BRL amounts up to 1e13.
    amount: info?.amount === undefined || info === null ? null : info.amount.toFixed(2),
    txid: info?.txid === undefined || info.txid === "***" ? null : info.txid,
    key: info?.key ?? null,
    url: info?.url ?? null,
    pointOfInitiation: info?.pointOfInitiation ?? null,
  };
}

function checkBoleto(line) {
  const [value, reference] = line.split("\t");
  const options = {};
  if (reference) {
    const [y, m, d] = reference.split("-").map(Number);
    options.referenceDate = new Date(y, m - 1, d);
  }
  const info = getBoletoInfo(value, options);
  let bbv;
  try {
    // Second argument: also check the linha's three field DVs, which it skips by default.
    bbv = bbvBoleto(value, true) === true;
  } catch {
    bbv = false;
  }
  return {
    ok: isValidBoleto(value) && info !== null,
    bbv_ok: bbv,
    bank: info?.bankCode ?? null,
    amount_cents: info?.amount ?? null,
    due_date: info?.expirationDate ? ymd(info.expirationDate) : null,
  };
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const raw of lines) {
  const line = raw.trimEnd();
  if (!line) continue;
  let result;
  try {
    result = mode === "pix" ? checkPix(line) : checkBoleto(line);
  } catch (error) {
    result = { ok: false, error: String(error) };
  }
  console.log(JSON.stringify(result));
}
