//! A tiny driver of the store for manual checks and timing:
//! `storectl ROOT import FILE [TAG]`, `load FILE`, `save OUT NAME...`,
//! `ls`, `inspect NAME`, `rmi NAME`, `history NAME`.

use berth_store::{ImportOptions, Store};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (root, cmd, rest) = match args.as_slice() {
        [root, cmd, rest @ ..] => (root, cmd.as_str(), rest),
        _ => return Err("usage: storectl ROOT import|load|save|ls|inspect|rmi|history ...".into()),
    };
    let store = Store::open(Path::new(root))?;
    let t = Instant::now();
    match (cmd, rest) {
        ("import", [file, tag @ ..]) => {
            let opts = ImportOptions {
                tag: tag.first().cloned(),
                ..ImportOptions::default()
            };
            let id = if file == "-" {
                store.import_rootfs(std::io::stdin().lock(), &opts)?
            } else {
                store.import_rootfs(File::open(file)?, &opts)?
            };
            println!("{id}");
        }
        ("load", [file]) => {
            let mut p = |l: &str| println!("{l}");
            if file == "-" {
                store.load(std::io::stdin().lock(), &mut p)?;
            } else {
                store.load(File::open(file)?, &mut p)?;
            }
        }
        ("save", [out, names @ ..]) => {
            let w: Box<dyn Write> = if out == "-" {
                Box::new(std::io::stdout().lock())
            } else {
                Box::new(File::create(out)?)
            };
            store.save(names, BufWriter::with_capacity(1 << 20, w))?;
        }
        ("ls", []) => {
            for i in store.list(false)? {
                println!("{} {:?} {}", i.id, i.repo_tags.unwrap_or_default(), i.size);
            }
        }
        ("inspect", [name]) => println!("{}", serde_json::to_string_pretty(&store.inspect(name)?)?),
        ("history", [name]) => println!("{}", serde_json::to_string_pretty(&store.history(name)?)?),
        ("rmi", [name]) => {
            for i in store.remove(name, false, &|_| None)? {
                println!("{}", serde_json::to_string(&i)?);
            }
        }
        _ => return Err(format!("bad command {cmd}").into()),
    }
    eprintln!("({:.3}s)", t.elapsed().as_secs_f64());
    Ok(())
}
