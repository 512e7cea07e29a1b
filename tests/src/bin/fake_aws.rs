//! DynamoDB, SQS and SES v2 answered in memory with AWS-like delays
//! (`integration_tests::fake_aws`), for the `invites-aws-latency` bench.
//! Prints `listening on <port>` once it accepts connections.
//!
//! Arguments (all optional): `--port N` (0: any free port), `--table
//! NAME=KEY[,SORT]` (repeated), `--queue NAME` (repeated), `--sender ADDRESS`,
//! `--configuration-set NAME`, `--quota PER_S`, `--delays DDB,SQS,SES` (ms),
//! `--visibility SECONDS`, `--redeliver-every N` (0: never).

use std::sync::Arc;

use integration_tests::fake_aws::{run, Fake, Setup};

fn main() {
    let mut args = std::env::args().skip(1);
    let mut port = 0u16;
    let mut setup = Setup {
        tables: Vec::new(),
        queues: Vec::new(),
        visibility_timeout_s: 360,
        redeliver_every: 0,
        sender: "no-reply@example.com".into(),
        configuration_set: None,
        quota_per_s: 1000.0,
        delays_ms: (5, 10, 40),
    };
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_default();
        let number = |v: &str| -> u64 { v.parse().unwrap_or_else(|_| usage(&flag)) };
        match flag.as_str() {
            "--port" => port = number(&value) as u16,
            "--table" => {
                let (name, keys) = value.split_once('=').unwrap_or_else(|| usage(&flag));
                setup
                    .tables
                    .push((name.into(), keys.split(',').map(str::to_owned).collect()));
            }
            "--queue" => setup.queues.push(value),
            "--sender" => setup.sender = value,
            "--configuration-set" => setup.configuration_set = Some(value),
            "--quota" => setup.quota_per_s = value.parse().unwrap_or_else(|_| usage(&flag)),
            "--delays" => {
                let d: Vec<u64> = value.split(',').map(number).collect();
                if d.len() != 3 {
                    usage(&flag);
                }
                setup.delays_ms = (d[0], d[1], d[2]);
            }
            "--visibility" => setup.visibility_timeout_s = number(&value),
            "--redeliver-every" => setup.redeliver_every = number(&value),
            _ => usage(&flag),
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| {
            eprintln!("fake_aws: no runtime: {e}");
            std::process::exit(1)
        });
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap_or_else(|e| {
                eprintln!("fake_aws: cannot listen on port {port}: {e}");
                std::process::exit(1)
            });
        let bound = listener.local_addr().map(|a| a.port()).unwrap_or(port);
        println!("listening on {bound}");
        run(listener, Arc::new(Fake::new(setup))).await;
    });
}

fn usage(flag: &str) -> ! {
    eprintln!("fake_aws: bad or unknown argument {flag} (see the file's header for the arguments)");
    std::process::exit(2)
}
