//! Schemas: what attributes and blocks a provider, resource or data source has, plus
//! the plan behaviour the SDK applies to each attribute.
//!
//! Schemas are usually derived from a model struct with `#[derive(Model)]`; the types
//! here are what the derive produces and can also be built by hand.

use crate::diag::{AttributePath, PathStep};
use crate::value::{Type, Value};

/// A versioned schema of a provider, resource or data source.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Schema {
    /// Bumped when stored state needs upgrading.
    pub version: i64,
    /// The top-level block.
    pub block: Block,
}

/// A block: attributes and nested blocks.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Block {
    /// The attributes, in declaration order.
    pub attributes: Vec<Attribute>,
    /// Nested block types.
    pub blocks: Vec<NestedBlock>,
    /// Markdown description.
    pub description: String,
    /// Deprecation message; empty when not deprecated.
    pub deprecated: String,
}

/// How an attribute's value is shaped.
#[derive(Debug, Clone, PartialEq)]
pub enum AttributeType {
    /// A plain typed attribute.
    Type(Type),
    /// A nested attribute: an object (or collection of objects) with its own attributes.
    Nested(Nesting, Vec<Attribute>),
}

/// Nesting modes of nested attributes and blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nesting {
    /// One object, may be null.
    Single,
    /// A list of objects.
    List,
    /// A set of objects.
    Set,
    /// A map of objects by label.
    Map,
    /// Blocks only: one object that is never null.
    Group,
}

/// One attribute and its behaviour.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    /// Attribute name in HCL.
    pub name: String,
    /// Its type or nested attributes.
    pub ty: AttributeType,
    /// Markdown description (shown in docs and the language server).
    pub description: String,
    /// Must be set in configuration.
    pub required: bool,
    /// May be set in configuration.
    pub optional: bool,
    /// Set by the provider when not configured.
    pub computed: bool,
    /// Hidden in plan output.
    pub sensitive: bool,
    /// Never stored in state (Terraform 1.11+).
    pub write_only: bool,
    /// Deprecation message; empty when not deprecated.
    pub deprecated: String,
    /// A change to this attribute replaces the resource.
    pub requires_replace: bool,
    /// Keep the prior state's value instead of "known after apply" when the attribute
    /// is computed and not configured.
    pub use_state_for_unknown: bool,
    /// Value planned when the configuration leaves the attribute null.
    pub default: Option<Value>,
}

impl Attribute {
    /// The nested attributes as a block, for nested attribute types.
    pub fn nested_block(&self) -> Option<(Nesting, Block)> {
        match &self.ty {
            AttributeType::Nested(n, attrs) => Some((
                *n,
                Block {
                    attributes: attrs.clone(),
                    ..Block::default()
                },
            )),
            AttributeType::Type(_) => None,
        }
    }

    /// A new attribute; set the flags with struct update or the builder methods.
    pub fn new(name: impl Into<String>, ty: Type) -> Attribute {
        Attribute {
            name: name.into(),
            ty: AttributeType::Type(ty),
            description: String::new(),
            required: false,
            optional: false,
            computed: false,
            sensitive: false,
            write_only: false,
            deprecated: String::new(),
            requires_replace: false,
            use_state_for_unknown: false,
            default: None,
        }
    }

    /// The value type of the attribute.
    pub fn value_type(&self) -> Type {
        match &self.ty {
            AttributeType::Type(t) => t.clone(),
            AttributeType::Nested(nesting, attrs) => {
                let obj = object_type(attrs, &[]);
                wrap(*nesting, obj)
            }
        }
    }
}

/// A nested block type.
#[derive(Debug, Clone, PartialEq)]
pub struct NestedBlock {
    /// Block type name in HCL.
    pub name: String,
    /// The block's own schema.
    pub block: Block,
    /// How many blocks and how they are shaped.
    pub nesting: Nesting,
    /// Fewest blocks (LIST and SET).
    pub min_items: i64,
    /// Most blocks (LIST and SET); 0 means no limit.
    pub max_items: i64,
    /// A change inside the block replaces the resource.
    pub requires_replace: bool,
}

impl NestedBlock {
    /// The value type of the block.
    pub fn value_type(&self) -> Type {
        wrap(self.nesting, self.block.value_type())
    }
}

/// The wire type of objects of type `obj` nested as `nesting`. As in Terraform, a
/// list or map of objects that hold `dynamic` values is itself `dynamic` (a tuple or
/// an object on the wire), since its elements may differ in type.
pub(crate) fn wrap(nesting: Nesting, obj: Type) -> Type {
    match nesting {
        Nesting::Single | Nesting::Group => obj,
        Nesting::List | Nesting::Map if obj.has_dynamic() => Type::Dynamic,
        Nesting::List => Type::list(obj),
        Nesting::Set => Type::set(obj),
        Nesting::Map => Type::map(obj),
    }
}

fn object_type(attrs: &[Attribute], blocks: &[NestedBlock]) -> Type {
    Type::object(
        attrs
            .iter()
            .map(|a| (a.name.clone(), a.value_type()))
            .chain(blocks.iter().map(|b| (b.name.clone(), b.value_type()))),
    )
}

impl Block {
    /// The object type of values of this block.
    pub fn value_type(&self) -> Type {
        object_type(&self.attributes, &self.blocks)
    }

    /// The attribute called `name`.
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }
}

impl Block {
    /// The longest start of `path` that Terraform can show in the configuration: it
    /// follows nested blocks (and their elements) to an attribute, plus one element
    /// step, but does not look inside an attribute's value. The flag says whether
    /// steps were cut.
    pub fn showable_path(&self, path: &AttributePath) -> (AttributePath, bool) {
        let mut out = Vec::new();
        let mut block = Some(self);
        let mut steps = path.0.iter().peekable();
        while let Some(step) = steps.next() {
            out.push(step.clone());
            let PathStep::Attr(name) = step else { continue };
            let Some(b) = block else { break };
            if let Some(nb) = b.blocks.iter().find(|nb| &nb.name == name) {
                block = Some(&nb.block);
                continue;
            }
            // An attribute: one index or key into its value, and no further.
            if let Some(next @ (PathStep::Index(_) | PathStep::Key(_))) = steps.peek() {
                out.push((*next).clone());
                steps.next();
            }
            break;
        }
        let cut = out.len() < path.0.len();
        (AttributePath(out), cut)
    }
}

impl Schema {
    /// The object type of values of this schema.
    pub fn value_type(&self) -> Type {
        self.block.value_type()
    }
}
