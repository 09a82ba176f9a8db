//! m2m-e2e: end-to-end suites only (`tests/`). The whole service on one machine —
//! emulator, seeded directory, the functions under `cargo lambda watch` — is
//! `m2m_testkit::stack::Stack`; this library exports nothing.
