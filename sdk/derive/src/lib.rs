//! `#[derive(Model)]` for tf-sdk: one struct gives a Terraform schema block and its
//! typed codec. See `tf_sdk::model` for the field attributes.

use proc_macro::TokenStream;
use proc_macro2::TokenStream as Tokens;
use quote::quote;
use syn::{
    Data, DeriveInput, Expr, Fields, Lit, LitStr, Meta, parse_macro_input, spanned::Spanned,
};

/// Derives `tf_sdk::Model` and `tf_sdk::TfType` for a struct whose fields are all
/// `Val<T>`.
///
/// Field attributes, in `#[tf(...)]`: `required`, `optional`, `computed`, `sensitive`,
/// `write_only`, `requires_replace`, `use_state_for_unknown`, `default = EXPR`,
/// `deprecated = "why"`, `name = "hcl_name"`, `validate = EXPR` (a
/// `tf_sdk::Validator<T>`), `nested` (a nested attribute of a model type), `flatten`
/// (on a field that is itself a `Model`, not a `Val`: its attributes and blocks are
/// this model's), and `block`
/// or `block = "list" | "set" | "single" | "group" | "map"` with optional
/// `min_items = N`, `max_items = N`. Doc comments become markdown descriptions.
#[proc_macro_derive(Model, attributes(tf))]
pub fn derive_model(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(t) => t.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

#[derive(Default)]
struct FieldOpts {
    required: bool,
    optional: bool,
    computed: bool,
    sensitive: bool,
    write_only: bool,
    requires_replace: bool,
    use_state_for_unknown: bool,
    nested: bool,
    flatten: bool,
    block: Option<String>,
    min_items: Option<Expr>,
    max_items: Option<Expr>,
    default: Option<Expr>,
    deprecated: Option<LitStr>,
    name: Option<LitStr>,
    validate: Option<Expr>,
}

fn docs(attrs: &[syn::Attribute]) -> String {
    let mut lines = Vec::new();
    for a in attrs {
        if let Meta::NameValue(nv) = &a.meta
            && nv.path.is_ident("doc")
            && let Expr::Lit(syn::ExprLit {
                lit: Lit::Str(s), ..
            }) = &nv.value
        {
            let v = s.value();
            lines.push(v.strip_prefix(' ').unwrap_or(&v).to_string());
        }
    }
    lines.join("\n").trim().to_string()
}

fn parse_opts(field: &syn::Field) -> syn::Result<FieldOpts> {
    let mut o = FieldOpts::default();
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("tf")) {
        attr.parse_nested_meta(|m| {
            let key = m
                .path
                .get_ident()
                .map(|i| i.to_string())
                .unwrap_or_default();
            match key.as_str() {
                "required" => o.required = true,
                "optional" => o.optional = true,
                "computed" => o.computed = true,
                "sensitive" => o.sensitive = true,
                "write_only" => o.write_only = true,
                "requires_replace" => o.requires_replace = true,
                "use_state_for_unknown" => o.use_state_for_unknown = true,
                "nested" => o.nested = true,
                "flatten" => o.flatten = true,
                "block" => {
                    o.block = Some(if m.input.peek(syn::Token![=]) {
                        let s: LitStr = m.value()?.parse()?;
                        let v = s.value();
                        if !["list", "set", "single", "group", "map"].contains(&v.as_str()) {
                            return Err(syn::Error::new(
                                s.span(),
                                "block nesting is list, set, single, group or map",
                            ));
                        }
                        v
                    } else {
                        String::new()
                    })
                }
                "min_items" => o.min_items = Some(m.value()?.parse()?),
                "max_items" => o.max_items = Some(m.value()?.parse()?),
                "default" => o.default = Some(m.value()?.parse()?),
                "validate" => o.validate = Some(m.value()?.parse()?),
                "deprecated" => o.deprecated = Some(m.value()?.parse()?),
                "name" => o.name = Some(m.value()?.parse()?),
                _ => return Err(m.error(format!("unknown tf attribute `{key}`"))),
            }
            Ok(())
        })?;
    }
    Ok(o)
}

/// The `T` of a `Val<T>` field type.
fn val_inner(ty: &syn::Type) -> Option<&syn::Type> {
    let syn::Type::Path(p) = ty else { return None };
    let seg = p.path.segments.last()?;
    if seg.ident != "Val" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &seg.arguments else {
        return None;
    };
    match args.args.first()? {
        syn::GenericArgument::Type(t) => Some(t),
        _ => None,
    }
}

fn expand(input: &DeriveInput) -> syn::Result<Tokens> {
    let ident = &input.ident;
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new(
            input.span(),
            "Model can only be derived for structs",
        ));
    };
    let Fields::Named(fields) = &data.fields else {
        return Err(syn::Error::new(input.span(), "Model needs named fields"));
    };
    let struct_doc = docs(&input.attrs);
    let sdk = quote!(::tf_sdk);

    let mut attr_defs = Vec::new();
    let mut block_defs = Vec::new();
    let mut decodes = Vec::new();
    let mut encodes = Vec::new();
    let mut validations = Vec::new();

    for field in &fields.named {
        let fident = field.ident.as_ref().expect("named field");
        let o = parse_opts(field)?;
        if o.flatten {
            // A model whose attributes and blocks are this one's too.
            let fty = &field.ty;
            attr_defs.push(quote! {
                let inner = <#fty as #sdk::Model>::block();
                attributes.extend(inner.attributes);
                blocks.extend(inner.blocks);
            });
            decodes.push(quote! { #fident: <#fty as #sdk::Model>::from_value(v)?, });
            encodes.push(quote! {
                if let #sdk::value::Value::Object(inner) = #sdk::Model::to_value(&self.#fident) {
                    fields.extend(inner);
                }
            });
            validations.push(quote! { #sdk::Model::validate(&self.#fident, path, diags); });
            continue;
        }
        let inner = val_inner(&field.ty)
            .ok_or_else(|| syn::Error::new(field.ty.span(), "Model fields must be Val<T>"))?;
        let name = o
            .name
            .as_ref()
            .map(LitStr::value)
            .unwrap_or_else(|| fident.to_string().trim_start_matches("r#").to_string());
        let desc = docs(&field.attrs);
        let deprecated = o.deprecated.as_ref().map(LitStr::value).unwrap_or_default();

        decodes.push(quote! {
            #fident: #sdk::model::decode_field::<#inner>(fields, #name)?,
        });
        encodes.push(quote! {
            fields.insert(#name.to_string(), #sdk::model::encode_field::<#inner>(&self.#fident));
        });
        let validator_call = o.validate.as_ref().map(|v| {
            quote! {
                if let Err(msg) = #sdk::model::Validator::<#inner>::check(&(#v), known) {
                    diags.error_at(path.clone().attr(#name), format!("Invalid value for {}", #name), msg);
                }
            }
        });
        validations.push(quote! {
            if let #sdk::Val::Known(known) = &self.#fident {
                #validator_call
                #sdk::model::TfType::validate_at(known, &path.clone().attr(#name), diags);
            }
        });

        if let Some(mode) = &o.block {
            let nesting = match mode.as_str() {
                "" => quote!(n),
                "list" => quote!(#sdk::schema::Nesting::List),
                "set" => quote!(#sdk::schema::Nesting::Set),
                "single" => quote!(#sdk::schema::Nesting::Single),
                "group" => quote!(#sdk::schema::Nesting::Group),
                _ => quote!(#sdk::schema::Nesting::Map),
            };
            let min = o
                .min_items
                .as_ref()
                .map(|e| quote!(#e))
                .unwrap_or(quote!(0));
            let max = o
                .max_items
                .as_ref()
                .map(|e| quote!(#e))
                .unwrap_or(quote!(0));
            let rr = o.requires_replace;
            block_defs.push(quote! { blocks.push({
                let (n, mut block) = <#inner as #sdk::model::TfType>::nested()
                    .expect(concat!("block field `", #name, "` must hold a Model or a collection of Models"));
                let _ = n;
                if block.description.is_empty() { block.description = #desc.to_string(); }
                block.deprecated = #deprecated.to_string();
                #sdk::schema::NestedBlock {
                    name: #name.to_string(), block, nesting: #nesting,
                    min_items: #min, max_items: #max, requires_replace: #rr,
                }
            }); });
            continue;
        }

        let ty_tokens = if o.nested {
            quote! {{
                let (n, block) = <#inner as #sdk::model::TfType>::nested()
                    .expect(concat!("nested field `", #name, "` must hold a Model or a collection of Models"));
                #sdk::schema::AttributeType::Nested(n, block.attributes)
            }}
        } else {
            quote!(#sdk::schema::AttributeType::Type(<#inner as #sdk::model::TfType>::tf_type()))
        };
        let default = match &o.default {
            Some(e) => quote!(Some(#sdk::value::Value::from(#e))),
            None => quote!(None),
        };
        if !(o.required || o.optional || o.computed) {
            return Err(syn::Error::new(
                fident.span(),
                "say whether the attribute is required, optional and/or computed",
            ));
        }
        if o.required && (o.optional || o.computed) {
            return Err(syn::Error::new(
                fident.span(),
                "required excludes optional and computed",
            ));
        }
        if o.default.is_some() && !o.computed {
            return Err(syn::Error::new(
                fident.span(),
                "an attribute with a default must be computed",
            ));
        }
        let (req, opt, comp, sens, wo, rr, usfu) = (
            o.required,
            o.optional,
            o.computed,
            o.sensitive,
            o.write_only,
            o.requires_replace,
            o.use_state_for_unknown,
        );
        attr_defs.push(quote! {
            attributes.push(#sdk::schema::Attribute {
                name: #name.to_string(),
                ty: #ty_tokens,
                description: #desc.to_string(),
                required: #req, optional: #opt, computed: #comp,
                sensitive: #sens, write_only: #wo,
                deprecated: #deprecated.to_string(),
                requires_replace: #rr, use_state_for_unknown: #usfu,
                default: #default,
            });
        });
    }

    Ok(quote! {
        impl #sdk::Model for #ident {
            fn block() -> #sdk::schema::Block {
                let mut attributes: Vec<#sdk::schema::Attribute> = Vec::new();
                let mut blocks: Vec<#sdk::schema::NestedBlock> = Vec::new();
                #(#attr_defs)*
                #(#block_defs)*
                #sdk::schema::Block {
                    attributes,
                    blocks,
                    description: #struct_doc.to_string(),
                    deprecated: String::new(),
                }
            }
            fn from_value(v: &#sdk::value::Value) -> Result<Self, #sdk::value::CodecError> {
                let fields = #sdk::model::object_fields(v)?;
                Ok(Self { #(#decodes)* })
            }
            fn to_value(&self) -> #sdk::value::Value {
                let mut fields = ::std::collections::BTreeMap::new();
                #(#encodes)*
                #sdk::value::Value::Object(fields)
            }
            fn validate(&self, path: &#sdk::AttributePath, diags: &mut #sdk::Diagnostics) {
                let _ = (&path, &diags);
                #(#validations)*
            }
        }
        impl #sdk::model::TfType for #ident {
            fn tf_type() -> #sdk::value::Type {
                <Self as #sdk::Model>::block().value_type()
            }
            fn from_tf(v: &#sdk::value::Value) -> Result<Self, #sdk::value::CodecError> {
                <Self as #sdk::Model>::from_value(v)
            }
            fn to_tf(&self) -> #sdk::value::Value {
                <Self as #sdk::Model>::to_value(self)
            }
            fn nested() -> Option<(#sdk::schema::Nesting, #sdk::schema::Block)> {
                Some((#sdk::schema::Nesting::Single, <Self as #sdk::Model>::block()))
            }
            fn validate_at(&self, path: &#sdk::AttributePath, diags: &mut #sdk::Diagnostics) {
                <Self as #sdk::Model>::validate(self, path, diags)
            }
        }
    })
}
