use super::*;

// ---- robustness ------------------------------------------------------

#[test]
fn mutated_inputs_never_panic_or_hang() {
    let mut ng = shb(false);
    ng.extend(idb(false, 1, 0, &[(9, &[9])]));
    ng.extend(epb(false, 0, 1, b"abcdefgh", 8));
    ng.extend(spb(false, b"xyz", 3));
    ng.extend(obsolete_pb(false, 0, 1, b"pb"));
    ng.extend(block(false, 5, &[0; 12]));
    let classic = pcap(true, false, 1, &[rec(1, 2, b"abcd"), rec(3, 4, b"efgh")]);
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for base in [ng, classic] {
        for _ in 0..1500 {
            let mut m = base.clone();
            for _ in 0..(rnd() % 4 + 1) {
                let i = (rnd() % m.len() as u64) as usize;
                m[i] = rnd() as u8;
            }
            if rnd() % 4 == 0 {
                m.truncate((rnd() % m.len() as u64) as usize);
            }
            if let Ok(mut r) = CaptureReader::with_buffer(Box::new(Cursor::new(m)), 4096) {
                let mut guard = 0;
                while let Ok(Some(_)) = r.next_packet() {
                    guard += 1;
                    assert!(guard < 100);
                }
            }
        }
    }
}
