//! Packet times: the BPF programs stamp each packet with
//! bpf_ktime_get_ns() (CLOCK_MONOTONIC); pcap files and the packet lines
//! want wall-clock time.

use std::time::{Duration, SystemTime};

/// Turns bpf_ktime_get_ns() (CLOCK_MONOTONIC) into wall-clock time.
pub struct Clock {
    wall_at_start: SystemTime,
    monotonic_at_start: Duration,
}

impl Clock {
    pub fn now() -> Clock {
        Clock {
            monotonic_at_start: monotonic(),
            wall_at_start: SystemTime::now(),
        }
    }

    pub fn wall_time(&self, monotonic_ns: u64) -> SystemTime {
        let at = Duration::from_nanos(monotonic_ns);
        match at.checked_sub(self.monotonic_at_start) {
            Some(after) => self.wall_at_start + after,
            None => self.wall_at_start - (self.monotonic_at_start - at),
        }
    }
}

fn monotonic() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// `HH:MM:SS.micros` (UTC), as tcpdump prints a packet's time.
pub fn time_of_day(at: SystemTime) -> String {
    let since = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs() % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:06}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        since.subsec_micros()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_time_maps_to_wall_time() {
        let clock = Clock {
            wall_at_start: SystemTime::UNIX_EPOCH + Duration::from_secs(1000),
            monotonic_at_start: Duration::from_secs(50),
        };
        let at = clock.wall_time(Duration::from_millis(51_500).as_nanos() as u64);
        assert_eq!(
            at,
            SystemTime::UNIX_EPOCH + Duration::from_millis(1_001_500)
        );
        let before = clock.wall_time(Duration::from_secs(49).as_nanos() as u64);
        assert_eq!(before, SystemTime::UNIX_EPOCH + Duration::from_secs(999));
        assert_eq!(time_of_day(at), "00:16:41.500000");
    }
}
