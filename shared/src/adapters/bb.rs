//! Banco do Brasil: API Cobranças v2 (boleto) and API Pix v2 (cobv). Being written.
