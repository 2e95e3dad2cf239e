//! Template-level tests: each behaviour of the crate docs has one here.

use crate::{Variables, evaluate, evaluate_with_report};

fn vars(pairs: &[(&str, &str)]) -> Variables {
    let mut v = Variables::new();
    for (n, val) in pairs {
        v.set(*n, *val);
    }
    v
}

fn ev(template: &str, pairs: &[(&str, &str)]) -> String {
    evaluate(template, &vars(pairs))
}

#[test]
fn substitutes_case_insensitively() {
    assert_eq!(
        ev("Hi #{name}, #{NAME}!", &[("Name", "Bob")]),
        "Hi Bob, Bob!"
    );
    assert_eq!(ev("#{ Name }", &[("Name", "Bob")]), "Bob");
    assert_eq!(ev("no tokens here", &[]), "no tokens here");
}

#[test]
fn identifier_characters() {
    let name = "a_b-c:d/e~f(g)@h i";
    assert_eq!(ev(&format!("#{{{name}}}"), &[(name, "ok")]), "ok");
    // `!` is not an identifier character: the token is not an expression.
    assert_eq!(ev("#{Foo!}", &[("Foo!", "x"), ("Foo", "y")]), "#{Foo!}");
}

#[test]
fn missing_variable_is_left_as_written_and_reported() {
    let r = evaluate_with_report(
        "#{A} #{Missing} #{Missing | ToUpper} #{A}",
        &vars(&[("A", "1")]),
    );
    assert_eq!(r.output, "1 #{Missing} #{Missing | ToUpper} 1");
    assert_eq!(r.missing, ["#{Missing}", "#{Missing | ToUpper}"]);
}

#[test]
fn unknown_filter_is_left_as_written() {
    assert_eq!(
        ev("#{A | NoSuchFilter}", &[("A", "1")]),
        "#{A | NoSuchFilter}"
    );
    assert_eq!(
        ev("#{A | ToUpper extra}", &[("A", "x")]),
        "#{A | ToUpper extra}"
    );
}

#[test]
fn malformed_tokens_are_literal() {
    assert_eq!(ev("#{A", &[("A", "1")]), "#{A");
    assert_eq!(ev("x #{A y #{A}", &[("A", "1")]), "x #{A y 1");
    assert_eq!(ev("#{}", &[]), "#{}");
    assert_eq!(ev("#{A.}", &[("A", "1")]), "#{A.}");
    assert_eq!(ev("#{A[x}", &[("A", "1")]), "#{A[x}");
    assert_eq!(
        ev("#{/if} #{else} #{/each}", &[]),
        "#{/if} #{else} #{/each}"
    );
}

#[test]
fn hash_escapes() {
    let v = [("A", "1")];
    assert_eq!(ev("##{A}", &v), "#{A}");
    assert_eq!(ev("###{A}", &v), "#1");
    assert_eq!(ev("####{A}", &v), "###{A}");
    assert_eq!(ev("a#b #", &v), "a#b #");
    assert_eq!(ev("## #A", &v), "## #A");
}

#[test]
fn indexers() {
    let v = [
        ("Octopus.Action[Step A].Output.X", "out"),
        ("Names[2]", "two"),
    ];
    assert_eq!(ev("#{Octopus.Action[Step A].Output.X}", &v), "out");
    assert_eq!(ev("#{octopus.action[STEP a].output.x}", &v), "out");
    assert_eq!(ev("#{Octopus.Action[ Step A ].Output.X}", &v), "out");
    assert_eq!(
        ev("#{Octopus.Action[Step B].Output.X}", &v),
        "#{Octopus.Action[Step B].Output.X}"
    );
    assert_eq!(ev("#{Names[2]}", &v), "two");
}

#[test]
fn nested_indexer() {
    let v = [
        ("Step", "Deploy Web"),
        ("Output[Deploy Web]", "done"),
        ("Which", "#{Step}"),
    ];
    assert_eq!(ev("#{Output[#{Step}]}", &v), "done");
    assert_eq!(ev("#{Output[#{Which}]}", &v), "done");
    assert_eq!(ev("#{Output[#{Nope}]}", &v), "#{Output[#{Nope}]}");
}

#[test]
fn wildcard_index_takes_the_first() {
    let v = [("Pkg[b].Id", "B"), ("Pkg[a].Id", "A")];
    assert_eq!(ev("#{Pkg[*].Id}", &v), "A");
}

#[test]
fn values_are_evaluated_recursively() {
    let v = [
        ("Url", "http://#{Host | ToLower}:#{Port}"),
        ("Host", "WEB01"),
        ("Port", "80"),
    ];
    assert_eq!(ev("#{Url}/x", &v), "http://web01:80/x");
    assert_eq!(vars(&v).eval("url").as_deref(), Some("http://web01:80"));
    assert_eq!(
        vars(&v).get("url"),
        Some("http://#{Host | ToLower}:#{Port}")
    );
    // A value's escapes apply when it is substituted.
    assert_eq!(ev("#{E}", &[("E", "##{x}")]), "#{x}");
}

#[test]
fn cycles_are_left_as_written() {
    assert_eq!(ev("#{A}", &[("A", "#{A}")]), "#{A}");
    assert_eq!(ev("#{A}", &[("A", "a#{B}"), ("B", "b#{A}")]), "ab#{A}");
    assert_eq!(ev("#{B}", &[("A", "a#{B}"), ("B", "b#{A}")]), "ba#{B}");
    let r = evaluate_with_report("#{A}", &vars(&[("A", "x#{A}")]));
    assert_eq!(
        (r.output.as_str(), r.missing),
        ("x#{A}", vec!["#{A}".to_owned()])
    );
}

#[test]
fn deep_chains_stop() {
    let mut v = Variables::new();
    for i in 0..100 {
        v.set(format!("V{i}"), format!("#{{V{}}}", i + 1));
    }
    v.set("V100", "end");
    let out = evaluate("#{V0}", &v);
    assert!(out.starts_with("#{V"), "{out}");
    assert_eq!(evaluate("#{V90}", &v), "end");
}

#[test]
fn self_doubling_values_stay_bounded() {
    let mut v = Variables::new();
    v.set("A0", "0123456789abcdef");
    for i in 1..64 {
        v.set(format!("A{i}"), format!("#{{A{0}}}#{{A{0}}}", i - 1));
    }
    let out = evaluate("#{A63} #{A63}", &v);
    assert!(out.len() < 300 << 20, "{}", out.len());
}

#[test]
fn filter_chains_and_arguments() {
    let v = [("N", "  Hello World  "), ("Sep", "-")];
    assert_eq!(ev("#{N | Trim | ToUpper}", &v), "HELLO WORLD");
    assert_eq!(ev("#{N|trim|tolower}", &v), "hello world");
    assert_eq!(
        ev("#{N | Trim | Replace \"o W\" \"0_w\"}", &v),
        "Hell0_world"
    );
    assert_eq!(ev("#{N | Trim | Replace o #{Sep}}", &v), "Hell- W-rld");
    assert_eq!(ev("#{N | Trim | Truncate 5}", &v), "Hello...");
    assert_eq!(ev("#{N | Trim | Substring 6 5}", &v), "World");
    assert_eq!(ev("#{N | Trim | StartsWith Hello}", &v), "true");
    assert_eq!(ev("#{N | Trim | EndsWith \"x\"}", &v), "false");
    assert_eq!(ev("#{N | Trim | Contains \\\"o W\\\"}", &v), "true");
    assert_eq!(
        ev("#{N | Trim | Append \"!\" | Prepend \">\"}", &v),
        ">Hello World!"
    );
    assert_eq!(ev("#{N | Trim | ToBase64 | FromBase64}", &v), "Hello World");
    assert_eq!(ev("#{V | VersionMinor}", &[("V", "1.2.3")]), "2");
    assert_eq!(
        ev("#{X | Format \\\"#,##0.0\\\"}", &[("X", "12345.67")]),
        "12,345.7"
    );
    // Plain quotes cannot hold `#`, as in Octostache.
    assert_eq!(
        ev("#{X | Format \"#,##0.0\"}", &[("X", "1")]),
        "#{X | Format \"#,##0.0\"}"
    );
    assert_eq!(ev("#{T | Format yyyy}", &[("T", "2024-05-06")]), "2024");
}

#[test]
fn filter_without_symbol_and_null() {
    assert_eq!(ev("a#{ | Null }b", &[]), "ab");
    assert_eq!(ev("a#{X | null}b", &[("X", "1")]), "ab");
    assert_eq!(ev("#{ | Append x y}", &[]), "xy");
    let now = ev("#{ | NowDateUtc}", &[]);
    assert!(now.len() == 28 && now.ends_with('Z'), "{now}");
    assert_eq!(ev("#{ | NowDateUtc \"yyyy\"}", &[]).len(), 4);
    assert_eq!(ev("#{X | NowDate}", &[("X", "1")]), "#{X | NowDate}");
}

#[test]
fn conditionals() {
    let v = [
        ("T", "True"),
        ("F", "False"),
        ("Zero", "0"),
        ("No", " no "),
        ("Empty", ""),
        ("Env", "Prod"),
    ];
    assert_eq!(ev("#{if T}yes#{/if}", &v), "yes");
    assert_eq!(ev("#{if F}yes#{else}no#{/if}", &v), "no");
    assert_eq!(
        ev(
            "#{if Zero}y#{else}n#{/if}#{if No}y#{else}n#{/if}#{if Empty}y#{else}n#{/if}",
            &v
        ),
        "nnn"
    );
    assert_eq!(ev("#{if Missing}y#{else}n#{/if}", &v), "n");
    assert_eq!(ev("#{if Env}y#{/if}", &v), "y");
    assert_eq!(
        ev("#{unless F}u#{/unless}#{unless T}u#{else}e#{/unless}", &v),
        "ue"
    );
    assert_eq!(ev("#{ IF T }x#{/if}", &v), "x");
}

#[test]
fn elseif_chains() {
    let t = "#{if Env == \"Dev\"}d#{elseif Env == \"Test\"}t#{elseif Env}o#{else}none#{/if}";
    assert_eq!(ev(t, &[("Env", "Dev")]), "d");
    assert_eq!(ev(t, &[("Env", "Test")]), "t");
    assert_eq!(ev(t, &[("Env", "Prod")]), "o");
    assert_eq!(ev(t, &[("Env", "")]), "none");
}

#[test]
fn comparisons() {
    let v = [("A", "x"), ("B", "x"), ("C", "X")];
    assert_eq!(ev("#{if A == B}eq#{/if}", &v), "eq");
    assert_eq!(ev("#{if A != C}ne#{/if}", &v), "ne");
    assert_eq!(
        ev("#{if A == \"x\"}q#{/if}#{if \"x\" == A}l#{/if}", &v),
        "ql"
    );
    assert_eq!(
        ev("#{if A == \"X\"}y#{else}case-sensitive#{/if}", &v),
        "case-sensitive"
    );
    assert_eq!(ev("#{if Missing == \"\"}empty#{/if}", &v), "empty");
    assert_eq!(ev("#{if C | ToLower == \"x\"}f#{/if}", &v), "f");
    // A filter that fails in a condition leaves the block as written.
    assert_eq!(ev("#{if A | Nope}y#{/if}", &v), "#{if A | Nope}y#{/if}");
}

#[test]
fn nested_blocks() {
    let v = [("A", "1"), ("B", "0"), ("L", "x,y")];
    let t = "#{if A}a#{if B}b#{else}!b#{/if}#{each i in L}[#{i}#{if B}B#{/if}]#{/each}#{/if}";
    assert_eq!(ev(t, &v), "a!b[x][y]");
}

#[test]
fn unbalanced_blocks_are_literal() {
    let v = [("A", "1")];
    assert_eq!(ev("#{if A}x#{A}", &v), "#{if A}x1");
    assert_eq!(ev("#{if A}x#{else}y", &v), "#{if A}x#{else}y");
    assert_eq!(ev("x#{/if}", &v), "x#{/if}");
    // An inner block left open is literal; the outer one still closes.
    assert_eq!(ev("#{if A}<#{each i in A}>#{/if}", &v), "<#{each i in A}>");
    assert_eq!(ev("#{each i in A}#{else}#{/each}", &v), "#{else}");
}

#[test]
fn each_over_a_comma_list() {
    let v = [("L", "a,b,c")];
    let t = "#{each x in L}#{x}:#{Octopus.Template.Each.Index}#{if Octopus.Template.Each.First}F#{/if}#{if Octopus.Template.Each.Last == \"True\"}L#{/if} #{/each}";
    assert_eq!(ev(t, &v), "a:0F b:1 c:2L ");
    assert_eq!(ev("Ok#{each x in Missing}#{x}#{/each}", &v), "Ok");
    assert_eq!(ev("#{each x in L}#{x}#{/each}|#{x}", &v), "abc|#{x}");
}

#[test]
fn each_over_an_indexed_collection() {
    let v = [
        ("Octopus.Action[Web].Name", "Deploy Web"),
        ("Octopus.Action[Web].Roles", "r1,r2"),
        ("Octopus.Action[db].Name", "Migrate"),
        ("Octopus.Step[Deploy Web].Status", "Success"),
        ("Octopus.Step[Migrate].Status", "Skipped"),
    ];
    assert_eq!(
        ev("#{each a in Octopus.Action}#{a}-#{a.Name};#{/each}", &v),
        "db-Migrate;Web-Deploy Web;"
    );
    assert_eq!(
        ev(
            "#{each a in Octopus.Action}#{each r in a.Roles}#{a.Name}/#{r} #{/each}#{/each}",
            &v
        ),
        "Deploy Web/r1 Deploy Web/r2 "
    );
    assert_eq!(
        ev(
            "#{each a in Octopus.Action}#{if Octopus.Step[#{a.Name}].Status != \"Skipped\"}#{a}#{/if}#{/each}",
            &v
        ),
        "Web"
    );
    // A name the loop variable does not have falls back to the outer scope.
    assert_eq!(
        ev(
            "#{each a in Octopus.Action}#{a.Outer}#{/each}",
            &[("Octopus.Action[x].N", "1"), ("a.Outer", "o")]
        ),
        "o"
    );
}

#[test]
fn calc() {
    let v = [("A", "5"), ("B", "7"), ("Another-Var", "11")];
    assert_eq!(ev("#{calc 3+2}", &v), "5");
    assert_eq!(ev("#{calc A+B}", &v), "12");
    assert_eq!(ev("#{calc A + B * 2}", &v), "19");
    assert_eq!(ev("#{calc 3*(2+2)*4}", &v), "48");
    assert_eq!(ev("#{calc 2/4}", &v), "0.5");
    assert_eq!(ev("#{calc {Another-Var}-2}", &v), "9");
    assert_eq!(ev("#{calc C+2}", &v), "#{calc C+2}");
    // `-` is an identifier character, so `B-2` is a (missing) name.
    assert_eq!(ev("#{calc B-2}", &v), "#{calc B-2}");
}

#[test]
fn variable_names_are_paths() {
    let v = vars(&[("Octopus.Action[Step A].Output.X", "1")]);
    assert_eq!(v.get("octopus . action[ step a ].output.x"), Some("1"));
    assert_eq!(
        v.iter().next(),
        Some(("Octopus.Action[Step A].Output.X", "1"))
    );
    let mut v = v;
    v.set("OCTOPUS.ACTION[step a].OUTPUT.X", "2");
    assert_eq!(
        (v.len(), v.get("Octopus.Action[Step A].Output.X")),
        (1, Some("2"))
    );
}

#[test]
fn pathological_inputs_finish() {
    let v = [("x", "1"), ("a", "#{a}")];
    for t in [
        "#{if x}".repeat(10_000),
        format!("{}{}", "#{if x}".repeat(1_000), "#{/if}".repeat(1_000)),
        "#{a[".repeat(10_000),
        "#{a | Replace \\\"".repeat(5_000),
        format!("#{{calc {}1", "(".repeat(10_000)),
        "#{each x in x}".repeat(5_000),
        "#{".repeat(20_000),
        "[#{a}]".repeat(10_000),
    ] {
        let start = std::time::Instant::now();
        let _ = ev(&t, &v);
        let took = start.elapsed();
        assert!(took.as_secs() < 3, "{} took {took:?}", &t[..20]);
    }
}

#[test]
fn large_script_is_fast() {
    let v = vars(&[("Name", "value"), ("Url", "http://#{Host}/"), ("Host", "h")]);
    let chunk = format!("{}#{{Name}} #{{Url | ToUpper}} ##{{esc}}\n", "x".repeat(90));
    let script = chunk.repeat(10_000);
    assert!(script.len() > 1_000_000);
    let start = std::time::Instant::now();
    let out = evaluate(&script, &v);
    let took = start.elapsed();
    assert!(out.contains("value HTTP://H/ #{esc}"));
    // Milliseconds in release; generous for unoptimised test builds.
    assert!(took.as_millis() < 3_000, "{took:?}");
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn never_panics(t in "[#{}|\\[\\]\"\\\\ a-cA.=!*0-9(/)\n-]{0,80}") {
            let v = vars(&[("a", "#{b}"), ("b", "x,y"), ("c", "#{a}#{c}"), ("a.b", "1"), ("a[b]", "2")]);
            let _ = evaluate(&t, &v);
        }

        #[test]
        fn escaped_text_round_trips(x in "[#{}a b|]{0,60}") {
            prop_assume!(!x.contains("##"));
            let escaped = x.replace("#{", "##{");
            prop_assert_eq!(evaluate(&escaped, &vars(&[("a", "1")])), x);
        }
    }
}
