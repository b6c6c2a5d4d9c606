//! Feeds arbitrary UTF-8 to the parser, the intent rules and the date reader;
//! the properties are in `bots::fuzzing::exercise_message`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| bots::fuzzing::exercise_message(data));
