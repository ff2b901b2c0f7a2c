#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bedrock_fuzz::scheme_request(data));
