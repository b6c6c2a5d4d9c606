//! Arbitrary bytes as a WebSocket text frame from a client. The properties
//! are in `ea_crm::fuzzing::exercise_ws_frame`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ea_crm::fuzzing::exercise_ws_frame(data));
