//! Times the scanner on one adversarial input (1 MiB of 'A').
#![allow(clippy::print_stdout, clippy::unwrap_used, missing_docs)]
use doormat_oracles::scan::{Canary, Record, Scanner};
fn main() {
    let s = Scanner::new(&[Canary {
        id: 3,
        bytes: b"k3j5mq2xra4vntbwz7hgdpcelfso6iyu",
        plaintext: b"x k3j5mq2xra4vntbwz7hgdpcelfso6iyu",
    }]);
    let bytes = vec![b'A'; 1 << 20];
    let t = std::time::Instant::now();
    let hits = s.scan(&[Record { id: 0, bytes: &bytes }]);
    println!("{:?} {}", t.elapsed(), hits.len());
}
