//! The smallest native silo with std: prints a greeting, its arguments and
//! an environment variable. `std-hello panic` panics instead, which must end
//! the silo with the panic message and a failure status.

// The libOS defines the hermit ABI std calls; nothing names it otherwise.
use bedrock_native_silo as _;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    println!("std-hello: hello from Rust std on Bedrock");
    println!("std-hello: args {args:?}");
    match std::env::var("GREETING") {
        Ok(v) => println!("std-hello: env GREETING={v}"),
        Err(e) => println!("std-hello: env GREETING unset ({e})"),
    }
    if args.get(1).map(String::as_str) == Some("panic") {
        panic!("deliberate panic from std-hello");
    }
}
