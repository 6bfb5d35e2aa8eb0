//! How many instances a workload kind gets; the daemon's `--workload` and the library's pool
//! `size` use the same rule.

/// pm-native's worker-count rule: CPU-bound = cores, I/O-bound = 2 × cores, mixed = 1.5 × cores.
pub fn workload_instances(workload: &str, cores: usize) -> Result<u32, String> {
    let cores = cores.max(1) as f64;
    let n = match workload {
        "cpu" => cores,
        "io" => cores * 2.0,
        "mixed" => (cores * 1.5).round(),
        other => {
            return Err(format!(
                "workload must be cpu, io or mixed, got \"{other}\""
            ))
        }
    };
    Ok((n as u32).max(1))
}

/// This machine's cores, as `-i max` counts them.
pub fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_by_kind() {
        assert_eq!(workload_instances("cpu", 4), Ok(4));
        assert_eq!(workload_instances("io", 4), Ok(8));
        assert_eq!(workload_instances("mixed", 3), Ok(5));
        assert_eq!(workload_instances("mixed", 1), Ok(2));
        assert_eq!(workload_instances("cpu", 0), Ok(1));
        assert!(workload_instances("gpu", 4).is_err());
    }
}
