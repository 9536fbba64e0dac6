#!/usr/bin/env bash
# The API tour of docs/api.md, runnable: from a customer to a report, against `make dev` (or any deployment).
#   BASE=http://127.0.0.1:3000 KEY=ck_… bash docs/api-tour.sh
# tests/api_tour.rs runs it against a freshly spawned stack and checks docs/api.md shows this very script.
set -euo pipefail
BASE=${BASE:-http://127.0.0.1:3000}
: "${KEY:?set KEY to the API key make dev printed}"

# api METHOD PATH [JSON]: the response body; fails on any 4xx/5xx, printing the error.
api() {
  curl -sS --fail-with-body -X "$1" "$BASE$2" -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: application/json' ${3:+--data "$3"}
}
# field PATH: a field of the JSON on stdin, e.g. `id` or `totals.net`.
field() { python3 -c 'import functools,json,sys; print(functools.reduce(lambda v, k: v[int(k)] if k.isdigit() else v[k], sys.argv[1].split("."), json.load(sys.stdin)))' "$1"; }
in_days() { TZ=America/Sao_Paulo date -d "+$1 days" +%F; }

# 1. A customer (CPF, e-mail, mobile) and a charge they can pay by Pix, boleto or card in up to 3 installments.
customer=$(api POST /v1/customers '{"name":"Maria Silva","document":"529.982.247-25","email":"maria@example.com",
  "phone":"+5511987654321","address":{"street":"Rua das Flores","number":"100","district":"Centro",
  "city":"São Paulo","state":"SP","cep":"01001-000"}}' | field id)
charge=$(api POST /v1/charges "{\"customer_id\":\"$customer\",\"amount\":\"150.00\",\"due_date\":\"$(in_days 10)\",
  \"description\":\"Mensalidade\",\"payment_methods\":[\"pix\",\"boleto\",\"credit_card\"],\"max_installments\":3}")
charge_id=$(echo "$charge" | field id)
echo "charge $charge_id: pay at $(echo "$charge" | field payment_url)"

# 2. Its régua (the reminders planned), then a new value: the payer is told and the régua re-planned.
api GET "/v1/charges/$charge_id/schedule" >/dev/null
api PATCH "/v1/charges/$charge_id" '{"amount":"140.00"}' | field amount
api PATCH "/v1/customers/$customer" '{"phone":"+55 11 91234-5678"}' >/dev/null
# The customer's open charges, due in the next 30 days, a page of 10 (follow next_cursor for more).
api GET "/v1/charges?customer_id=$customer&status=pending&due_to=$(in_days 30)&limit=10" | field data.0.id

# 3. The payer pays by card (a sandbox token here); the charge is paid and the reminders stop.
api POST "/v1/charges/$charge_id/card-payments" '{"card_token":"tok_visa","brand":"Visa","installments":1}' >/dev/null
api GET "/v1/charges/$charge_id" | field status

# 4. A carnê for the same customer: R$ 300,00 in 3 monthly charges, each with its own link and régua.
api POST /v1/installment-plans "{\"customer_id\":\"$customer\",\"amount\":\"300.00\",\"installments\":3,
  \"first_due_date\":\"$(in_days 5)\",\"description\":\"Curso\",\"payment_methods\":[\"pix\",\"boleto\"]}" | field installments.2.amount

# 5. A monthly subscription: each charge is made 10 days before it falls due (the first one now), and a new
#    price applies from the next charge not yet made.
subscription=$(api POST /v1/subscriptions "{\"customer_id\":\"$customer\",\"amount\":\"49.90\",\"cycle\":\"monthly\",
  \"first_due_date\":\"$(in_days 7)\",\"description\":\"Plano Pro\",\"payment_methods\":[\"pix\"]}" | field id)
api PATCH "/v1/subscriptions/$subscription" '{"amount":"59.90"}' | field next_generation_date

# 6. Reports: what was received, by method and wallet, and which reminder preceded each payment.
api GET "/v1/reports/received?from=$(in_days -1)&to=$(in_days 1)" | field totals.net
api GET "/v1/reports/recovery?from=$(in_days -1)&to=$(in_days 1)&format=csv"
api GET "/v1/reports/aging" | field overdue.balance_due
