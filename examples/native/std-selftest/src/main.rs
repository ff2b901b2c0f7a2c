use bedrock_native_silo as _; fn main() {}
