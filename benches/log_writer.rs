//! Log pump: `logs::pump` copying an in-memory stream of mixed-length lines into a real log
//! file (opened through `LogFiles`, as the daemon does), plain and with a date prefix.
//! Throughput counts input bytes; the file is truncated before every iteration, outside the
//! timed part, so repeated runs do not grow it.
//!
//! Run: `cargo bench --bench log_writer` (add `-- --quick` for a fast pass).

use std::hint::black_box;
use std::time::Duration;

use criterion::{
    criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use pm_native::logs::{pump, LineFormat, LogFiles, Sinks, Stream};

/// Size of the input stream pumped per iteration.
const INPUT_MB: usize = 8;

/// Deterministic app-like output: mostly short and medium lines, some long ones (stack traces,
/// JSON dumps), a few empty ones.
fn input(bytes: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes + 8192);
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut n = 0u64;
    while out.len() < bytes {
        // xorshift64
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let len = match seed % 100 {
            0..=4 => 0,
            5..=59 => 20 + (seed >> 8) as usize % 60,
            60..=94 => 80 + (seed >> 8) as usize % 240,
            _ => 1024 + (seed >> 8) as usize % 3072,
        };
        let head = format!("[req {n}] GET /api/v1/items status=200 ");
        n += 1;
        if len > 0 {
            out.extend_from_slice(head.as_bytes());
            let fill = len.saturating_sub(head.len());
            out.extend((0..fill).map(|i| b'a' + (i % 26) as u8));
        }
        out.push(b'\n');
    }
    out.truncate(bytes);
    if out.last() != Some(&b'\n') {
        out.push(b'\n');
    }
    out
}

fn bench_pump(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let data = input(INPUT_MB * 1024 * 1024);
    let dir = tempfile::tempdir().expect("tempdir");
    let files = LogFiles::default();

    let formats = [
        ("plain", LineFormat::default()),
        (
            "date_prefix",
            LineFormat {
                date_format: Some("%Y-%m-%dT%H:%M:%S".into()),
                json: None,
            },
        ),
    ];

    let mut g = c.benchmark_group("log_writer/pump");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Bytes(data.len() as u64));
    for (label, format) in formats {
        let path = dir.path().join(format!("{label}-out.log"));
        let file = files.get(&path).expect("open log file");
        let sinks = Sinks {
            files: vec![file.clone()],
            on_fault: None,
        };
        // Sanity pass: every byte of input reaches the file (plus prefixes when dated).
        rt.block_on(pump(
            &data[..],
            Stream::Out,
            sinks.clone(),
            format.clone(),
            |_| {},
        ));
        let written = std::fs::metadata(&path).expect("stat").len() as usize;
        match format.date_format {
            None => assert_eq!(written, data.len(), "{label}"),
            Some(_) => assert!(written > data.len(), "{label}: wrote {written} bytes"),
        }
        g.bench_with_input(
            BenchmarkId::new(label, format!("{INPUT_MB}MiB")),
            &data,
            |b, data| {
                b.iter_batched(
                    || file.truncate().expect("truncate"),
                    |()| {
                        let mut lines = 0usize;
                        rt.block_on(pump(
                            black_box(&data[..]),
                            Stream::Out,
                            sinks.clone(),
                            format.clone(),
                            |l| {
                                black_box(l);
                                lines += 1;
                            },
                        ));
                        lines
                    },
                    BatchSize::PerIteration,
                )
            },
        );
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_pump
}
criterion_main!(benches);
