//! cobranca's domain: charges, the régua de cobrança, notifications and payments, with the ports they need
//! (`store`, `events`, `queue`, `notification::NotificationSender`) and the adapters that implement them.
//! Nothing outside `adapters` knows about AWS.

pub mod address;
pub mod api;
pub mod api_keys;
pub mod ascii;
pub mod calendar;
pub mod card_attempts;
pub mod channel;
pub mod channel_policy;
pub mod charge;
pub mod checkout;
pub mod contact;
pub mod customer;
pub mod delivery;
pub mod document;
pub mod erasure;
pub mod events;
pub mod idempotency;
pub mod ids;
pub mod installment_plan;
pub mod institution;
pub mod jobs;
#[cfg(feature = "aws")]
pub mod lambda;
pub mod merchant;
pub mod merchant_webhooks;
pub mod money;
pub mod mtls;
pub mod notification;
pub mod outbound;
pub mod pages;
pub mod pay;
pub mod payment;
pub mod payment_notice;
pub mod port_error;
pub mod providers;
pub mod queue;
pub mod recurrence;
pub mod registration;
pub mod reports;
pub mod ruler;
pub mod schedule;
pub mod service;
pub mod settlement;
pub mod sms_text;
pub mod standard_webhooks;
pub mod store;
pub mod tick;
pub mod wallet;

pub mod adapters;
pub mod telemetry;
pub mod templates;
pub mod tracking;
