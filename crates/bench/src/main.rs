//! `quire-bench gen --messages N --seed S -o FILE.mbox[.gz]`: deterministic list-archive generator.
use std::io::{BufWriter, Write};

fn main() {
    if let Err(e) = run(std::env::args().skip(1).collect()) {
        eprintln!("quire-bench: {e}");
        std::process::exit(2);
    }
}

fn run(args: Vec<String>) -> Result<(), String> {
    let mut it = args.iter();
    match it.next().map(String::as_str) {
        Some("gen") => {
            let (mut n, mut seed, mut out) = (1000u64, 1u64, None::<String>);
            while let Some(a) = it.next() {
                let v = it.next().ok_or(format!("{a} needs a value"))?;
                match a.as_str() {
                    "--messages" => n = v.parse().map_err(|e| format!("--messages {v}: {e}"))?,
                    "--seed" => seed = v.parse().map_err(|e| format!("--seed {v}: {e}"))?,
                    "-o" => out = Some(v.clone()),
                    _ => return Err(format!("unknown option {a}")),
                }
            }
            let out = out.ok_or("gen needs -o FILE")?;
            let f = std::fs::File::create(&out).map_err(|e| format!("create {out}: {e}"))?;
            let res = if out.ends_with(".gz") {
                let mut gz = flate2::write::GzEncoder::new(BufWriter::new(f), flate2::Compression::fast());
                quire_bench::generate(n, seed, &mut gz).and_then(|_| gz.finish().map(|_| ()))
            } else {
                let mut w = BufWriter::new(f);
                quire_bench::generate(n, seed, &mut w).and_then(|_| w.flush())
            };
            res.map_err(|e| format!("write {out}: {e}"))
        }
        _ => Err("usage: quire-bench gen --messages N --seed S -o FILE.mbox[.gz]".into()),
    }
}
