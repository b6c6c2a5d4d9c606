//! Arbitrary bytes as an uploaded CSV file: streaming reading, header
//! mapping and row normalisation. The properties are in
//! `ea_crm::fuzzing::exercise_csv_import`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ea_crm::fuzzing::exercise_csv_import(data));
