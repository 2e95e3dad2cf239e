//! The plan pipeline inside nested blocks and nested attributes: prior values are
//! paired by list index and map key, and `requires_replace` is found at any depth.

use std::collections::BTreeMap;
use tf_sdk::__internal::plan::{mark_computed_unknown, requires_replace};
use tf_sdk::value::Value;
use tf_sdk::{AttributePath, Model, Val};

/// A rule.
#[derive(Model, Clone, Debug)]
struct Rule {
    /// Rule name; changing it replaces the resource.
    #[tf(required, requires_replace)]
    name: Val<String>,
    /// Free text.
    #[tf(optional)]
    note: Val<String>,
    /// Server-assigned, stable.
    #[tf(computed, use_state_for_unknown)]
    rule_id: Val<String>,
    /// Server-computed, changes.
    #[tf(computed)]
    hits: Val<i64>,
}

/// A resource with rules as a list block and as a map nested attribute.
#[derive(Model, Clone, Debug)]
struct Firewall {
    /// Name.
    #[tf(required)]
    name: Val<String>,
    /// Ordered rules.
    #[tf(block)]
    rule: Val<Vec<Rule>>,
    /// Named rules.
    #[tf(optional, nested)]
    named: Val<BTreeMap<String, Rule>>,
}

fn rule(name: &str, note: &str, id: Val<String>, hits: Val<i64>) -> Rule {
    Rule {
        name: Val::Known(name.into()),
        note: Val::Known(note.into()),
        rule_id: id,
        hits,
    }
}

fn config(notes: [&str; 2], names: [&str; 2]) -> Firewall {
    Firewall {
        name: Val::Known("fw".into()),
        rule: Val::Known(vec![
            rule(names[0], notes[0], Val::Null, Val::Null),
            rule(names[1], notes[1], Val::Null, Val::Null),
        ]),
        named: Val::Known(BTreeMap::from([(
            "a".into(),
            rule(names[0], notes[0], Val::Null, Val::Null),
        )])),
    }
}

fn prior() -> Firewall {
    Firewall {
        name: Val::Known("fw".into()),
        rule: Val::Known(vec![
            rule("ssh", "x", Val::Known("r-1".into()), Val::Known(5)),
            rule("web", "y", Val::Known("r-2".into()), Val::Known(9)),
        ]),
        named: Val::Known(BTreeMap::from([(
            "a".into(),
            rule("ssh", "x", Val::Known("r-9".into()), Val::Known(1)),
        )])),
    }
}

/// What Terraform proposes: the configuration with computed values from the prior state.
fn proposed(cfg: &Firewall) -> Value {
    let mut p = cfg.clone();
    let prior = prior();
    if let (Val::Known(rules), Val::Known(prior_rules)) = (&mut p.rule, &prior.rule) {
        for (r, pr) in rules.iter_mut().zip(prior_rules) {
            r.rule_id = pr.rule_id.clone();
            r.hits = pr.hits.clone();
        }
    }
    if let (Val::Known(named), Val::Known(prior_named)) = (&mut p.named, &prior.named) {
        for (k, r) in named.iter_mut() {
            r.rule_id = prior_named[k].rule_id.clone();
            r.hits = prior_named[k].hits.clone();
        }
    }
    p.to_value()
}

#[test]
fn use_state_for_unknown_pairs_prior_by_index_and_key() {
    let cfg = config(["changed", "y"], ["ssh", "web"]);
    let mut plan = proposed(&cfg);
    mark_computed_unknown(
        &Firewall::block(),
        &mut plan,
        &cfg.to_value(),
        &prior().to_value(),
    );
    let planned = Firewall::from_value(&plan).unwrap();
    let rules = planned.rule.known().unwrap();
    assert_eq!(
        rules[0].rule_id,
        Val::Known("r-1".into()),
        "kept from prior element 0"
    );
    assert_eq!(
        rules[1].rule_id,
        Val::Known("r-2".into()),
        "kept from prior element 1"
    );
    assert_eq!(
        rules[0].hits,
        Val::Unknown,
        "plain computed becomes unknown"
    );
    let named = planned.named.known().unwrap();
    assert_eq!(
        named["a"].rule_id,
        Val::Known("r-9".into()),
        "kept from prior map entry"
    );
    assert_eq!(named["a"].hits, Val::Unknown);
}

#[test]
fn requires_replace_is_found_inside_nested_blocks_and_attributes() {
    let block = Firewall::block();
    // Only a note changed: no replacement.
    let cfg = config(["changed", "y"], ["ssh", "web"]);
    let plan = proposed(&cfg);
    assert!(requires_replace(&block, &prior().to_value(), &plan, &cfg.to_value()).is_empty());

    // The second rule's name changed: that path, and the map entry's.
    let cfg = config(["x", "y"], ["ssh", "https"]);
    let plan = proposed(&cfg);
    let paths = requires_replace(&block, &prior().to_value(), &plan, &cfg.to_value());
    assert_eq!(
        paths,
        vec![AttributePath::root("rule").index(1).attr("name")]
    );

    let cfg = config(["x", "y"], ["telnet", "web"]);
    let plan = proposed(&cfg);
    let paths = requires_replace(&block, &prior().to_value(), &plan, &cfg.to_value());
    assert_eq!(
        paths,
        vec![
            AttributePath::root("named").key("a").attr("name"),
            AttributePath::root("rule").index(0).attr("name"),
        ]
    );
}

/// A tag: set elements are paired by value, not position.
#[derive(Model, Clone, Debug, PartialEq)]
struct Tag {
    /// Key.
    #[tf(required)]
    key: Val<String>,
    /// Priority, 7 unless configured.
    #[tf(optional, computed, default = 7)]
    priority: Val<i64>,
    /// Server-assigned, stable.
    #[tf(computed, use_state_for_unknown)]
    tag_id: Val<String>,
    /// Server-computed, changes.
    #[tf(computed)]
    uses: Val<i64>,
}

/// A resource with tags as a set block.
#[derive(Model, Clone, Debug)]
struct Tagged {
    /// Name.
    #[tf(required)]
    name: Val<String>,
    /// Tags, unordered.
    #[tf(block = "set")]
    tag: Val<tf_sdk::model::Set<Tag>>,
}

fn tag(key: &str, priority: Val<i64>, id: Val<String>, uses: Val<i64>) -> Tag {
    Tag {
        key: Val::Known(key.into()),
        priority,
        tag_id: id,
        uses,
    }
}

fn tagged(tags: Vec<Tag>) -> Tagged {
    Tagged {
        name: Val::Known("t".into()),
        tag: Val::Known(tf_sdk::model::Set(tags)),
    }
}

#[test]
fn set_elements_are_paired_by_value_for_defaults_and_prior_state() {
    let block = Tagged::block();
    // Prior state: two tags, stored in one order.
    let prior = tagged(vec![
        tag("b", Val::Known(7), Val::Known("t-b".into()), Val::Known(2)),
        tag("a", Val::Known(1), Val::Known("t-a".into()), Val::Known(5)),
    ])
    .to_value();
    // Configuration: listed in another order, a third tag added, priorities left to
    // their default except a's.
    let config = tagged(vec![
        tag("a", Val::Known(1), Val::Null, Val::Null),
        tag("c", Val::Null, Val::Null, Val::Null),
        tag("b", Val::Null, Val::Null, Val::Null),
    ])
    .to_value();
    // Terraform's proposal: config elements, computed values from the matching prior
    // element (none for the new tag).
    let mut plan = tagged(vec![
        tag("a", Val::Known(1), Val::Known("t-a".into()), Val::Known(5)),
        tag("c", Val::Null, Val::Null, Val::Null),
        tag("b", Val::Known(7), Val::Known("t-b".into()), Val::Known(2)),
    ])
    .to_value();
    tf_sdk::__internal::plan::apply_defaults(&block, &mut plan, &config);
    mark_computed_unknown(&block, &mut plan, &config, &prior);
    let planned = Tagged::from_value(&plan).unwrap();
    let tags = &planned.tag.known().unwrap().0;
    let by_key = |k: &str| tags.iter().find(|t| t.key == Val::Known(k.into())).unwrap();
    assert_eq!(
        by_key("a"),
        &tag("a", Val::Known(1), Val::Known("t-a".into()), Val::Unknown),
        "configured priority kept, ID from the prior element with key a, uses unknown"
    );
    assert_eq!(
        by_key("b"),
        &tag("b", Val::Known(7), Val::Known("t-b".into()), Val::Unknown),
        "default applied, ID from the prior element with key b"
    );
    assert_eq!(
        by_key("c"),
        &tag("c", Val::Known(7), Val::Unknown, Val::Unknown),
        "a new element: default applied, no prior to keep an ID from"
    );
    // Nothing configured was changed on the way.
    assert!(tf_sdk::__internal::plan::restore_config(&block, &mut plan, &config).is_empty());
}
