//! `xdp-loader load/unload/status` on the real kernel, checked against
//! independent oracles: `ip -j link show`, `bpftool -j`, and pings from
//! the peer namespace.

mod common;

use std::process::Command;

use common::*;

/// An XDP program without any header, so the test needs only clang.
const EXTERNAL_DROP: &str = r#"
__attribute__((section("xdp"), used)) int ext_drop(void *ctx) { return 1; /* XDP_DROP */ }
char _license[] __attribute__((section("license"), used)) = "GPL";
"#;

/// Reads packet data without a bounds check: the verifier must refuse it.
const UNCHECKED_READ: &str = r#"
struct xdp_md { unsigned int data, data_end; };
__attribute__((section("xdp"), used)) int unchecked(struct xdp_md *ctx)
{ return *(int *)(long)ctx->data; }
char _license[] __attribute__((section("license"), used)) = "GPL";
"#;

/// A pre-libbpf-1.0 custom section name.
const LEGACY_SECTION: &str = r#"
__attribute__((section("xdp_patch_ports"), used)) int patch_ports(void *ctx) { return 2; }
char _license[] __attribute__((section("license"), used)) = "GPL";
"#;

#[track_caller]
fn assert_attached(net: &TestNet, mode: &str, name: &str) -> u64 {
    let xdp = net.ip_link_xdp().expect("ip link shows an XDP program");
    assert_eq!(xdp["mode"], ip_mode_number(mode), "{xdp}");
    assert_eq!(xdp["prog"]["name"], name, "{xdp}");
    xdp["prog"]["id"].as_u64().unwrap()
}

#[test]
fn every_builtin_program_loads_and_unloads_in_native_and_skb_mode() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let programs = [
        ("xdp_pass", "xdp_prog_simple"),
        ("xdp_prog", "xdp_pass_func"),
        ("xdp_prog", "xdp_drop_func"),
        ("xdp_prog", "xdp_abort_func"),
    ];
    for mode in ["native", "skb"] {
        for (object, program) in programs {
            let run = loader(&["load", "-m", mode, "-n", program, net.host_if(), object]).ok();
            let id = assert_attached(&net, mode, program);
            assert!(run.stdout.contains(&format!(
                "Success: Loaded BPF-object({object}) and used program({program})"
            )));
            assert!(run.stdout.contains(&format!(
                " - XDP prog id:{id} attached on device:{}(",
                net.host_if()
            )));
            assert!(run.stdout.contains(&format!("in {mode} mode")));
            let run = loader(&["unload", net.host_if()]).ok();
            assert!(run.stdout.contains(program));
            assert_eq!(net.ip_link_xdp(), None, "unload left a program");
        }
    }
}

#[test]
fn drop_drops_pings_and_pass_passes_them() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    assert!(net.ping(1), "no connectivity before any program");
    loader(&["load", net.host_if(), "xdp_prog", "-n", "xdp_pass_func"]).ok();
    assert!(net.ping(2), "xdp_pass_func must pass pings");
    loader(&[
        "load",
        "-F",
        net.host_if(),
        "xdp_prog",
        "-n",
        "xdp_drop_func",
    ])
    .ok();
    assert!(!net.ping(2), "xdp_drop_func must drop pings");
    loader(&[
        "load",
        "-F",
        "--skb-mode",
        "--dev",
        net.host_if(),
        "--filename",
        "xdp_prog",
        "--progname",
        "xdp_abort_func",
    ])
    .ok();
    assert_attached(&net, "skb", "xdp_abort_func");
    assert!(!net.ping(2), "xdp_abort_func must drop pings");
    loader(&["unload", net.host_if()]).ok();
    assert!(net.ping(1), "pings must pass again after unload");
}

#[test]
fn default_program_is_the_first_and_the_choice_is_explained() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let run = loader(&["load", net.host_if(), "xdp_prog"]).ok();
    assert!(run.stderr.contains("using 'xdp_pass_func'"), "{run:#?}");
    assert!(
        run.stderr.contains("xdp_drop_func, xdp_abort_func"),
        "{run:#?}"
    );
    assert_attached(&net, "native", "xdp_pass_func");
}

#[test]
fn external_object_compiled_by_clang_is_loaded() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let obj = compile_bpf("ext_drop", EXTERNAL_DROP);
    let run = loader(&["load", "-m", "skb", net.host_if(), path(&obj)]).ok();
    assert!(
        run.stdout
            .contains("BPF-object(ext_drop) and used program(ext_drop)"),
        "{run:#?}"
    );
    let id = assert_attached(&net, "skb", "ext_drop");
    // bpftool agrees on what the kernel loaded.
    let prog = json("bpftool", &["-j", "prog", "show", "id", &id.to_string()]);
    assert_eq!(prog["name"], "ext_drop");
    assert_eq!(prog["type"], "xdp");
    assert!(!net.ping(1), "the external drop program must drop");
}

#[test]
fn without_force_an_attached_program_is_kept_and_named() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    loader(&["load", net.host_if(), "xdp_prog", "-n", "xdp_pass_func"]).ok();
    let first = assert_attached(&net, "native", "xdp_pass_func");
    let run = loader(&["load", net.host_if(), "xdp_prog", "-n", "xdp_drop_func"]).fails_with(30);
    assert!(
        run.stderr
            .contains(&format!("xdp_pass_func (id {first}, native mode)")),
        "{run:#?}"
    );
    assert!(run.hint().contains("--force"));
    assert_eq!(
        assert_attached(&net, "native", "xdp_pass_func"),
        first,
        "refused load changed the interface"
    );
}

#[test]
fn force_replaces_in_the_same_mode() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    loader(&["load", net.host_if(), "xdp_prog", "-n", "xdp_pass_func"]).ok();
    let old = assert_attached(&net, "native", "xdp_pass_func");
    let run = loader(&[
        "load",
        "--force",
        net.host_if(),
        "xdp_prog",
        "-n",
        "xdp_drop_func",
    ])
    .ok();
    let new = assert_attached(&net, "native", "xdp_drop_func");
    assert_ne!(old, new);
    assert!(
        run.stdout
            .contains(&format!("replaced xdp_pass_func (id {old}, native mode)")),
        "{run:#?}"
    );
}

#[test]
fn force_falls_back_across_modes() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    loader(&["load", "-m", "skb", net.host_if(), "xdp_pass"]).ok();
    let old = assert_attached(&net, "skb", "xdp_prog_simple");

    // Without --force the other mode's program blocks the attach.
    let run = loader(&[
        "load",
        "-m",
        "native",
        net.host_if(),
        "xdp_prog",
        "-n",
        "xdp_drop_func",
    ])
    .fails_with(30);
    assert!(
        run.stderr
            .contains("native and skb programs cannot be attached at the same time"),
        "{run:#?}"
    );
    assert!(run.hint().contains("--force"));
    assert_attached(&net, "skb", "xdp_prog_simple");

    let run = loader(&[
        "load",
        "-m",
        "native",
        "-F",
        net.host_if(),
        "xdp_prog",
        "-n",
        "xdp_drop_func",
    ])
    .ok();
    assert!(
        run.stdout
            .contains(&format!("replaced xdp_prog_simple (id {old}, skb mode)")),
        "{run:#?}"
    );
    assert_attached(&net, "native", "xdp_drop_func");
}

#[test]
fn hw_mode_on_veth_is_refused_with_a_hint() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let run = loader(&["load", "-m", "hw", net.host_if(), "xdp_pass"]).fails_with(30);
    assert!(run.stderr.contains("cannot offload"), "{run:#?}");
    assert!(run.hint().contains("-m native") && run.hint().contains("-m skb"));
    assert_eq!(net.ip_link_xdp(), None);
}

#[test]
fn native_mode_unsupported_gives_the_skb_hint() {
    // Each namespace has its own loopback, which has no native XDP.
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let run = net
        .loader_inside(&["load", "lo", "xdp_pass"])
        .fails_with(30);
    assert!(
        run.stderr.contains("does not support XDP in native mode"),
        "{run:#?}"
    );
    assert!(run.hint().contains("-m skb"));
    net.loader_inside(&["load", "-m", "skb", "lo", "xdp_pass"])
        .ok();
}

#[test]
fn unknown_interface_lists_the_real_ones() {
    if !privileged() {
        return;
    }
    let run = loader(&["load", "nosuchif0", "xdp_pass"]).fails_with(2);
    assert!(run.stderr.contains("unknown interface 'nosuchif0'"));
    assert!(run.hint().contains("lo"));
    loader(&["unload", "nosuchif0"]).fails_with(2);
}

#[test]
fn unknown_program_name_lists_the_available_ones() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let run = loader(&["load", net.host_if(), "xdp_prog", "-n", "xdp_nope"]).fails_with(40);
    for name in ["xdp_pass_func", "xdp_drop_func", "xdp_abort_func"] {
        assert!(run.stderr.contains(name), "{name} not listed: {run:#?}");
    }
    assert!(run.hint().contains("-n NAME"));
    assert_eq!(net.ip_link_xdp(), None);
}

#[test]
fn verifier_rejection_shows_the_log_and_attaches_nothing() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let obj = compile_bpf("unchecked", UNCHECKED_READ);
    let run = loader(&["load", net.host_if(), path(&obj)]).fails_with(40);
    assert!(
        run.stderr.contains("verifier rejected program 'unchecked'"),
        "{run:#?}"
    );
    assert!(run.stderr.contains("invalid access to packet"), "{run:#?}");
    assert!(run.stderr.contains("failed at instruction"), "{run:#?}");
    assert!(run.hint().contains("-v"));
    assert_eq!(net.ip_link_xdp(), None);

    // -v prints the whole log (it starts at instruction 0).
    let verbose = loader(&["load", "-v", net.host_if(), path(&obj)]).fails_with(40);
    assert!(
        verbose.stderr.contains("BEGIN PROG LOAD LOG"),
        "{verbose:#?}"
    );
    assert!(verbose.stderr.lines().count() > run.stderr.lines().count());
}

#[test]
fn legacy_section_name_loads_as_xdp_when_picked() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let obj = compile_bpf("legacy_sec", LEGACY_SECTION);
    let run = loader(&["load", net.host_if(), path(&obj)]).fails_with(40);
    assert!(run.hint().contains("-s SECTION"), "{run:#?}");
    let run = loader(&["load", "-s", "xdp_patch_ports", net.host_if(), path(&obj)]).ok();
    assert!(
        run.stderr.contains("loading 'patch_ports' as XDP"),
        "{run:#?}"
    );
    assert_attached(&net, "native", "patch_ports");
}

#[test]
fn missing_and_invalid_object_files() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let run = loader(&["load", net.host_if(), "/nonexistent/prog.o"]).fails_with(40);
    assert!(run.stderr.contains("No such file"), "{run:#?}");
    loader(&["load", net.host_if(), "no_such_builtin"]).fails_with(40);

    let dir = std::env::temp_dir().join(format!("bad-objects-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = std::fs::read(compile_bpf("good_drop", EXTERNAL_DROP)).unwrap();
    let host = dir.join("host.o");
    sh("clang", &["-c", "-x", "c", "-o", path(&host), "/dev/null"]);
    let big_endian = dir.join("bpfeb.o");
    let source = dir.join("drop.c");
    std::fs::write(&source, EXTERNAL_DROP).unwrap();
    sh(
        "clang",
        &[
            "-target",
            "bpfeb",
            "-O2",
            "-c",
            path(&source),
            "-o",
            path(&big_endian),
        ],
    );
    // The same object with its header's class byte saying ELFCLASS32.
    let mut class32 = good.clone();
    class32[4] = 1;
    let cases: [(&str, Vec<u8>, &str); 6] = [
        ("empty.o", Vec::new(), "the file is empty"),
        ("bpfeb.o", std::fs::read(&big_endian).unwrap(), "big-endian"),
        ("class32.o", class32, "32-bit ELF object"),
        (
            "text.o",
            b"not an ELF file".to_vec(),
            "it is not an ELF file",
        ),
        ("cut.o", good[..good.len() / 2].to_vec(), "it is truncated"),
        ("host.o", std::fs::read(&host).unwrap(), "not BPF"),
    ];
    for (name, bytes, why) in cases {
        let file = dir.join(name);
        std::fs::write(&file, bytes).unwrap();
        let run = loader(&["load", net.host_if(), path(&file)]).fails_with(40);
        assert!(
            run.stderr.starts_with(&format!(
                "Error: '{}' is not a usable BPF object: ",
                path(&file)
            )),
            "{run:#?}"
        );
        assert!(run.stderr.contains(why), "{name}: {run:#?}");
        assert!(
            run.hint().contains("xdp-loader build prog.bpf.c"),
            "{run:#?}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(net.ip_link_xdp(), None);
    assert!(!std::path::Path::new(&format!("/sys/fs/bpf/{}", net.host_if())).exists());
}

/// An object whose BTF names a variable its symbol table lacks: libbpf says
/// only ENOENT ("No such file or directory") for a file that exists, and the
/// reason at debug level; that reason is shown without -v.
#[test]
fn damaged_object_shows_libbpfs_reason_without_verbose() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let good = compile_bpf("btf_mismatch", EXTERNAL_DROP);
    let damaged = good.with_file_name("btf_mismatch_damaged.o");
    sh(
        "llvm-objcopy",
        &[
            "--redefine-sym",
            "_license=_licensX",
            path(&good),
            path(&damaged),
        ],
    );
    let run = loader(&["load", net.host_if(), path(&damaged)]).fails_with(40);
    assert!(run.stderr.contains("not a usable BPF object"), "{run:#?}");
    assert!(
        run.stderr
            .contains("libbpf: sec 'license': failed to find ELF symbol for VAR '_license'"),
        "{run:#?}"
    );
    assert_eq!(net.ip_link_xdp(), None);
}

/// The header check reads 64 bytes, not the file: a 2 GiB (sparse) object
/// libbpf refuses costs the tool no more memory than a small one.
#[test]
fn huge_refused_object_is_not_read_whole() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("huge-object-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let _cleanup = RemoveOnDrop(path(&dir).to_string());
    let host = dir.join("host.o");
    sh("clang", &["-c", "-x", "c", "-o", path(&host), "/dev/null"]);
    let huge = dir.join("huge.o");
    std::fs::copy(&host, &huge).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&huge)
        .unwrap()
        .set_len(2 << 30)
        .unwrap();
    let out = std::process::Command::new("/usr/bin/time")
        .args(["-f", "peak_rss_kb=%M", loader_path(), "load", net.host_if()])
        .arg(&huge)
        .output()
        .expect("/usr/bin/time (Debian package time)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(40), "{stderr}");
    assert!(stderr.contains("not BPF"), "{stderr}");
    let peak_kb: u64 = stderr
        .split("peak_rss_kb=")
        .nth(1)
        .and_then(|rest| rest.trim().parse().ok())
        .unwrap_or_else(|| panic!("no peak RSS in {stderr}"));
    assert!(peak_kb < 256 * 1024, "peak RSS {peak_kb} kB: {stderr}");
    assert_eq!(net.ip_link_xdp(), None);
}

#[test]
fn object_without_xdp_programs_says_what_it_has() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let obj = compile_bpf(
        "not_xdp",
        r#"
__attribute__((section("kprobe/do_sys_open"), used)) int kp(void *ctx) { return 0; }
__attribute__((section("tc"), used)) int cls(void *ctx) { return 0; }
char _license[] __attribute__((section("license"), used)) = "GPL";
"#,
    );
    let run = loader(&["load", net.host_if(), path(&obj)]).fails_with(40);
    assert!(
        run.stderr.contains("no XDP program in object 'not_xdp'"),
        "{run:#?}"
    );
    assert!(
        run.stderr
            .contains("kp (section 'kprobe/do_sys_open', kprobe)"),
        "{run:#?}"
    );
    assert!(
        run.stderr.contains("cls (section 'tc', schedcls)"),
        "{run:#?}"
    );
    assert!(run.hint().contains("SEC(\"xdp\")"), "{run:#?}");
    assert_eq!(net.ip_link_xdp(), None);
}

#[test]
fn impossible_interface_names_are_explained() {
    if !privileged() {
        return;
    }
    for (name, why) in [
        (
            "a-name-far-too-long0",
            "it has 20 characters, Linux allows at most 15",
        ),
        ("eth0/1", "it contains '/'"),
        ("", "it is empty"),
    ] {
        let run = loader(&["load", name, "xdp_pass"]).fails_with(2);
        assert!(
            run.stderr
                .contains(&format!("'{name}' cannot be an interface name: {why}")),
            "{run:#?}"
        );
    }
}

#[test]
fn link_attachment_outlives_the_process_and_unload_removes_it() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let pin = format!("/sys/fs/bpf/xdp-loader/{}/link", net.host_if());
    let run = loader(&[
        "load",
        "--attach",
        "link",
        net.host_if(),
        "xdp_prog",
        "-n",
        "xdp_drop_func",
    ])
    .ok();
    assert!(run.stdout.contains(&pin), "{run:#?}");

    // The loader has exited; the kernel still runs the program through the link.
    let id = assert_attached(&net, "native", "xdp_drop_func");
    // bpftool (an independent reader of the kernel's link table) sees a
    // live XDP link holding exactly that program.
    assert_bpftool_xdp_link(&id.into());
    assert!(std::path::Path::new(&pin).exists());
    assert!(!net.ping(1), "the linked drop program must drop");

    let status = json(loader_path(), &["status", "--json", net.host_if()]);
    assert_eq!(status[0]["programs"][0]["attach"], "link");
    assert_eq!(status[0]["programs"][0]["link_pin"], pin.as_str());

    // A netlink attach cannot replace the link without --force.
    loader(&["load", net.host_if(), "xdp_pass"]).fails_with(30);

    loader(&["unload", net.host_if()]).ok();
    assert_eq!(net.ip_link_xdp(), None);
    assert!(
        !std::path::Path::new(&pin).exists(),
        "unload left the link pin"
    );
    let links = json("bpftool", &["-j", "link", "show"]);
    assert!(!links.as_array().unwrap().iter().any(|l| l["prog_id"] == id));
    assert!(net.ping(1));
}

#[test]
fn status_json_agrees_with_ip_link() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    loader(&[
        "load",
        "-m",
        "skb",
        net.host_if(),
        "xdp_prog",
        "-n",
        "xdp_drop_func",
    ])
    .ok();
    let xdp = net.ip_link_xdp().unwrap();
    let link = &json("ip", &["-j", "link", "show", "dev", net.host_if()])[0];

    let all = json(loader_path(), &["status", "--json"]);
    let mine = all
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["ifname"] == net.host_if())
        .expect("status lists every interface");
    assert_eq!(mine["ifindex"], link["ifindex"]);
    let prog = &mine["programs"][0];
    assert_eq!(prog["id"], xdp["prog"]["id"]);
    assert_eq!(prog["name"], xdp["prog"]["name"]);
    assert_eq!(prog["tag"], xdp["prog"]["tag"]);
    assert_eq!(prog["mode"], "skb");
    assert_eq!(prog["attach"], "netlink");

    let table = loader(&["status", net.host_if()]).ok().stdout;
    let row = table
        .lines()
        .find(|l| l.starts_with(net.host_if()))
        .unwrap();
    assert!(
        row.contains("xdp_drop_func") && row.contains("skb"),
        "{table}"
    );
    assert!(loader(&["status", "lo"])
        .ok()
        .stdout
        .contains("<no XDP program>"));
}

#[test]
fn unload_by_id_refuses_a_different_program() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    loader(&["load", net.host_if(), "xdp_pass"]).ok();
    let id = assert_attached(&net, "native", "xdp_prog_simple");
    let wrong = (id + 100_000).to_string();
    let run = loader(&["unload", net.host_if(), "--id", &wrong]).fails_with(1);
    assert!(run.stderr.contains("xdp_prog_simple"), "{run:#?}");
    assert_attached(&net, "native", "xdp_prog_simple");
    loader(&["unload", net.host_if(), "--id", &id.to_string()]).ok();
    assert_eq!(net.ip_link_xdp(), None);
    let run = loader(&["unload", net.host_if()]).fails_with(1);
    assert!(run.stderr.contains("no XDP program is attached"));
}

#[test]
fn list_shows_every_builtin_without_root() {
    let run = loader(&["list"]).ok();
    for expected in [
        "xdp_pass (basic01)",
        "xdp_prog (basic02, basic04)",
        "xdp_stats1 (basic03)",
        "xdp_parser (packet01)",
        "xdp_rewrite (packet02)",
        "xdp_redirect (packet03)",
        "xdp_prog_simple",
        "xdp_abort_func",
    ] {
        assert!(run.stdout.contains(expected), "{expected}: {run:#?}");
    }
}

/// `xdp-loader list | head -0`: a closed stdout ends the tool as it ends C
/// tools (SIGPIPE), never with a panic (exit 101) in println!.
#[test]
fn a_closed_stdout_is_not_a_panic() {
    use std::os::fd::FromRawFd;
    use std::os::unix::process::ExitStatusExt;
    // A pipe whose read end is closed before the tool starts.
    let mut fds = [0; 2];
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    unsafe { libc::close(fds[0]) };
    let write_end = unsafe { std::process::Stdio::from_raw_fd(fds[1]) };
    let out = Command::new(loader_path())
        .arg("list")
        .stdout(write_end)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGPIPE),
        "{:?} {stderr}",
        out.status
    );
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(loader(&["load"]).code, 2);
    assert_eq!(loader(&["load", "-m", "turbo", "eth0", "xdp_pass"]).code, 2);
    assert_eq!(loader(&["frobnicate"]).code, 2);
}

#[test]
fn a_map_asking_for_absurd_memory_is_refused_before_the_kernel_tries() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let obj = compile_bpf(
        "huge_map",
        r#"
struct { int (*type)[6]; int (*max_entries)[2000000000]; unsigned int *key; unsigned long long (*value)[4]; }
    huge __attribute__((section(".maps"), used));
__attribute__((section("xdp"), used)) int pass(void *ctx) { return 2; }
char _license[] __attribute__((section("license"), used)) = "GPL";
"#,
    );
    let started = std::time::Instant::now();
    let run = loader(&["load", net.host_if(), path(&obj)]).fails_with(40);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert!(
        run.stderr.contains("map 'huge' of 'huge_map' would need"),
        "{run:#?}"
    );
    assert!(run.hint().contains("max_entries"), "{run:#?}");
    assert_eq!(net.ip_link_xdp(), None);
}

/// The guard counts every map kind and the object's total: a 2 GiB ring
/// buffer (key and value size 0) once passed and cost 1.8 GB of kernel
/// memory, and so did two maps just under the limit each.
#[test]
fn ring_buffers_and_the_objects_total_count_against_the_memory_limit() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let ring = compile_bpf(
        "huge_ring",
        r#"
struct { int (*type)[27]; int (*max_entries)[2147483648u]; } big_ring __attribute__((section(".maps"), used));
__attribute__((section("xdp"), used)) int pass(void *ctx) { return 2; }
char _license[] __attribute__((section("license"), used)) = "GPL";
"#,
    );
    let run = loader(&["load", net.host_if(), path(&ring)]).fails_with(40);
    assert!(
        run.stderr.contains(
            "map 'big_ring' of 'huge_ring' would need 2048 MiB of kernel memory (ringbuf"
        ),
        "{run:#?}"
    );
    // 2 x 600 MiB arrays (75,000,000 entries of 4 + 4 bytes): each under 1 GiB.
    let pair = compile_bpf(
        "two_big_arrays",
        r#"
struct { int (*type)[2]; int (*max_entries)[78643200]; unsigned int *key; unsigned int *value; }
    first __attribute__((section(".maps"), used)), second __attribute__((section(".maps"), used));
__attribute__((section("xdp"), used)) int pass(void *ctx) { return 2; }
char _license[] __attribute__((section("license"), used)) = "GPL";
"#,
    );
    let run = loader(&["load", net.host_if(), path(&pair)]).fails_with(40);
    assert!(
        run.stderr
            .contains("the maps of 'two_big_arrays' together would need 1200 MiB"),
        "{run:#?}"
    );
    assert_eq!(net.ip_link_xdp(), None);
}

#[test]
fn missing_kernel_features_are_named() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    // A map type no kernel has (250), and a helper no kernel has (999).
    let map = compile_bpf(
        "future_map",
        r#"
struct { int (*type)[250]; int (*max_entries)[4]; unsigned int *key; unsigned int *value; }
    future __attribute__((section(".maps"), used));
__attribute__((section("xdp"), used)) int pass(void *ctx) { return 2; }
char _license[] __attribute__((section("license"), used)) = "GPL";
"#,
    );
    let helper = compile_bpf(
        "future_helper",
        r#"
static long (*bpf_future_helper)(void *ctx) = (void *) 999;
__attribute__((section("xdp"), used)) int future(void *ctx) { return bpf_future_helper(ctx) ? 1 : 2; }
char _license[] __attribute__((section("license"), used)) = "GPL";
"#,
    );
    let run = loader(&["load", net.host_if(), path(&map)]).fails_with(40);
    assert!(
        run.stderr
            .contains("the kernel refused to create map 'future' of 'future_map'"),
        "{run:#?}"
    );
    assert!(run.hint().contains("newer kernel"), "{run:#?}");
    let run = loader(&["load", net.host_if(), path(&helper)]).fails_with(40);
    assert!(run.stderr.contains("invalid func unknown#999"), "{run:#?}");
    assert!(run.hint().contains("BPF helper this kernel"), "{run:#?}");
    assert_eq!(net.ip_link_xdp(), None);
    assert!(!std::path::Path::new(&format!("/sys/fs/bpf/{}", net.host_if())).exists());
}

#[test]
fn bpffs_is_mounted_when_missing() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    // In a private mount namespace, so the machine's /sys/fs/bpf is untouched.
    let script = format!(
        "umount /sys/fs/bpf 2>/dev/null; umount /sys/fs/bpf 2>/dev/null; \
         {loader} load {ifname} xdp_pass && stat -f -c %T /sys/fs/bpf && \
         ls /sys/fs/bpf/{ifname} && {loader} unload {ifname}",
        loader = loader_path(),
        ifname = net.host_if()
    );
    let run = in_private_mounts(&script);
    assert!(
        run.stderr.contains("Note: mounted bpffs at /sys/fs/bpf"),
        "{run:#?}"
    );
    assert!(run.stdout.contains("bpf_fs"), "{run:#?}");
    assert!(run.stdout.contains("xdp_stats_map"), "{run:#?}");
}

/// `xdp-loader ARGS` under `setpriv SETPRIV...` (uid and capabilities).
fn loader_with_privileges(setpriv: &[&str], args: &[&str]) -> Run {
    let out = Command::new("setpriv")
        .args(setpriv)
        .arg(loader_path())
        .args(args)
        .output()
        .expect("setpriv (util-linux)");
    Run::from(out)
}

const NOBODY: [&str; 3] = ["--reuid=65534", "--regid=65534", "--clear-groups"];

#[test]
fn without_the_capabilities_they_are_named_whoever_runs_it() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    // A user without capabilities.
    let mut nobody = NOBODY.to_vec();
    nobody.push("--inh-caps=-all");
    let run = loader_with_privileges(&nobody, &["load", net.host_if(), "xdp_pass"]).fails_with(1);
    assert!(
        run.stderr.contains(
            "xdp-loader load needs CAP_SYS_ADMIN and CAP_NET_ADMIN (missing: CAP_SYS_ADMIN and CAP_NET_ADMIN)"
        ),
        "{run:#?}"
    );
    assert!(run.hint().contains("setpriv"), "{run:#?}");

    // Root (euid 0) with them dropped: named too, not "needs root" passed
    // and then every program read as "<gone>".
    loader(&["load", net.host_if(), "xdp_pass"]).ok();
    let dropped = [
        "--inh-caps=-all",
        "--bounding-set=-sys_admin,-net_admin,-bpf,-perfmon",
    ];
    let run = loader_with_privileges(&dropped, &["unload", net.host_if(), "--all"]).fails_with(1);
    assert!(
        run.stderr
            .contains("(missing: CAP_SYS_ADMIN and CAP_NET_ADMIN)"),
        "{run:#?}"
    );
    let run = loader_with_privileges(&dropped, &["status", net.host_if()]).fails_with(1);
    assert!(
        run.stderr
            .contains("xdp-loader status needs CAP_SYS_ADMIN (missing: CAP_SYS_ADMIN)"),
        "{run:#?}"
    );
    assert!(!run.stdout.contains("<gone>"), "{run:#?}");
    assert!(net.ip_link_xdp().is_some(), "nothing was detached");
    loader(&["unload", net.host_if(), "--all"]).ok();
}

/// A non-root user holding the capabilities loads, reads and unloads as
/// root does (CAP_DAC_OVERRIDE for /sys/fs/bpf, mode 0700 root's, as bpftool
/// needs it too).
#[test]
fn a_non_root_user_with_the_capabilities_works() {
    let Some(net) = TestNet::for_privileged_test() else {
        return;
    };
    let caps = "+sys_admin,+net_admin,+dac_override";
    let inh = format!("--inh-caps={caps}");
    let ambient = format!("--ambient-caps={caps}");
    let mut user = NOBODY.to_vec();
    user.extend([inh.as_str(), ambient.as_str()]);
    loader_with_privileges(&user, &["load", net.host_if(), "xdp_stats1"]).ok();
    let attached = net.ip_link_xdp().expect("attached by uid 65534");
    assert_eq!(attached["prog"]["name"], "xdp_stats1_func", "{attached}");
    let status = loader_with_privileges(&user, &["status", net.host_if()]).ok();
    assert!(status.stdout.contains("xdp_stats1_func"), "{status:#?}");
    loader_with_privileges(&user, &["unload", net.host_if(), "--all"]).ok();
    assert_eq!(net.ip_link_xdp(), None);
}
