//! Cielo e-commerce API 3.0 (cards). Being written.
