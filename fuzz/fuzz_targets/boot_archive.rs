#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| bedrock_fuzz::boot_archive(data));
