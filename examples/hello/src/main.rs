//! The smallest useful silo: a greeting first (what deploy-to-first-output
//! benchmarks wait for), then its arguments and one environment variable.

fn main() {
    println!("Hello from a Bedrock silo!");
    for (i, arg) in std::env::args().enumerate() {
        println!("argv[{i}] = {arg}");
    }
    match std::env::var("GREETING") {
        Ok(value) => println!("GREETING = {value}"),
        Err(_) => println!("GREETING is not set"),
    }
}
