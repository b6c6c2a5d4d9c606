//! Sets of query parameters read into one struct: a filter that several
//! operations share is declared, parsed and documented once.
//!
//! poem-openapi 5 binds one operation argument to one parameter (an
//! `ApiExtractor` describes a single name, location and schema) and has no
//! `#[oai(flatten)]` for parameters. So a set, declared with
//! [`query_params!`], presents itself as one query parameter whose schema
//! is an object, a property per parameter with its description. In
//! OpenAPI an object-valued query parameter with `style: form` and
//! `explode: true` (the defaults) is exactly that set of parameters
//! (`?status=won&owner=me`); [`Expanded`] then writes each property out as
//! its own parameter in the document, the form client generators and the
//! property tests read. Each value is read as `Query<T>` reads it, so a
//! value that does not parse answers 400 with the one error body, as any
//! other parameter does.

use std::collections::HashMap;

use poem::endpoint::BoxEndpoint;
use poem::http::Method;
use poem::{Request, RequestBody};
use poem_openapi::param::Query;
use poem_openapi::registry::{
    MetaApi, MetaOperationParam, MetaParamIn, MetaSchema, MetaSchemaRef, Registry,
};
use poem_openapi::types::{ParseFromParameter, Type};
use poem_openapi::{ApiExtractor, ExtractParamOptions, OpenApi};

/// Declares a struct of query parameters that an operation takes as one
/// argument: each field is a parameter named after it, typed as a
/// `Query<T>` would be, its doc comment the parameter's description.
macro_rules! query_params {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[doc = $doc:literal])*
                $field:ident: $ty:ty
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $(
                $(#[doc = $doc])*
                pub $field: $ty,
            )*
        }

        impl<'a> ::poem_openapi::ApiExtractor<'a> for $name {
            const TYPES: &'static [::poem_openapi::ApiExtractorType] =
                &[::poem_openapi::ApiExtractorType::Parameter];
            type ParamType = ();
            type ParamRawType = ();

            fn register(registry: &mut ::poem_openapi::registry::Registry) {
                $(<$ty as ::poem_openapi::types::Type>::register(registry);)*
            }

            fn param_in() -> Option<::poem_openapi::registry::MetaParamIn> {
                Some(::poem_openapi::registry::MetaParamIn::Query)
            }

            fn param_schema_ref() -> Option<::poem_openapi::registry::MetaSchemaRef> {
                Some($crate::http::query_params::object_schema(vec![
                    $($crate::http::query_params::property::<$ty>(
                        stringify!($field),
                        concat!($($doc, "\n",)*),
                    ),)*
                ]))
            }

            async fn from_request(
                request: &'a ::poem::Request,
                body: &mut ::poem::RequestBody,
                _param_opts: ::poem_openapi::ExtractParamOptions<()>,
            ) -> ::poem::Result<Self> {
                Ok($name {
                    $($field: $crate::http::query_params::read::<$ty>(
                        request,
                        body,
                        stringify!($field),
                    )
                    .await?,)*
                })
            }
        }
    };
}
pub(crate) use query_params;

/// One parameter of a set, as a property of the set's object schema.
pub struct Property {
    name: &'static str,
    schema: MetaSchemaRef,
    required: bool,
}

/// The property `name` of type `T`, described by `doc` (the field's doc
/// comment lines, each ending in a newline).
pub fn property<T: Type>(name: &'static str, doc: &'static str) -> Property {
    let description = (!doc.trim().is_empty()).then_some(doc);
    let schema = match T::schema_ref() {
        MetaSchemaRef::Inline(schema) => MetaSchemaRef::Inline(Box::new(MetaSchema {
            description: description.or(schema.description),
            ..*schema
        })),
        reference @ MetaSchemaRef::Reference(_) => match description {
            None => reference,
            Some(description) => MetaSchemaRef::Inline(Box::new(MetaSchema {
                description: Some(description),
                all_of: vec![reference],
                ..MetaSchema::ANY
            })),
        },
    };
    Property {
        name,
        schema,
        required: T::IS_REQUIRED,
    }
}

/// The schema of a whole set: an object, a property a parameter.
pub fn object_schema(properties: Vec<Property>) -> MetaSchemaRef {
    MetaSchemaRef::Inline(Box::new(MetaSchema {
        required: properties
            .iter()
            .filter(|p| p.required)
            .map(|p| p.name)
            .collect(),
        properties: properties.into_iter().map(|p| (p.name, p.schema)).collect(),
        ..MetaSchema::new("object")
    }))
}

/// Reads the parameter `name` as `Query<T>` does, with its errors.
pub async fn read<T: ParseFromParameter>(
    request: &Request,
    body: &mut RequestBody,
    name: &'static str,
) -> poem::Result<T> {
    let options = ExtractParamOptions {
        name,
        ..Default::default()
    };
    Ok(Query::<T>::from_request(request, body, options).await?.0)
}

/// The services `T` with every parameter set written out as one parameter
/// per property, each with its own schema and description.
pub struct Expanded<T>(pub T);

impl<T: OpenApi> OpenApi for Expanded<T> {
    fn meta() -> Vec<MetaApi> {
        let mut apis = T::meta();
        for operation in apis
            .iter_mut()
            .flat_map(|api| api.paths.iter_mut())
            .flat_map(|path| path.operations.iter_mut())
        {
            operation.params = std::mem::take(&mut operation.params)
                .into_iter()
                .flat_map(expand)
                .collect();
        }
        apis
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn add_routes(self, route_table: &mut HashMap<String, HashMap<Method, BoxEndpoint<'static>>>) {
        self.0.add_routes(route_table);
    }
}

/// A query parameter whose schema is an object with properties, as a
/// parameter per property; any other parameter as it is.
fn expand(param: MetaOperationParam) -> Vec<MetaOperationParam> {
    let MetaSchemaRef::Inline(schema) = &param.schema else {
        return vec![param];
    };
    if param.in_type != MetaParamIn::Query || schema.ty != "object" || schema.properties.is_empty()
    {
        return vec![param];
    }
    let MetaSchemaRef::Inline(schema) = param.schema else {
        unreachable!("matched as inline above");
    };
    let required = schema.required;
    schema
        .properties
        .into_iter()
        .map(|(name, property)| {
            let (schema, description) = split_description(property);
            MetaOperationParam {
                name: name.to_string(),
                schema,
                in_type: MetaParamIn::Query,
                description,
                required: required.contains(&name),
                deprecated: param.deprecated,
                explode: true,
                style: None,
            }
        })
        .collect()
}

/// A property's schema without its description, and the description as a
/// parameter carries it (each line trimmed, as poem-openapi writes a doc
/// comment).
fn split_description(property: MetaSchemaRef) -> (MetaSchemaRef, Option<String>) {
    let MetaSchemaRef::Inline(mut schema) = property else {
        return (property, None);
    };
    let description = schema.description.take().map(|doc| {
        doc.lines()
            .map(str::trim)
            .collect::<Vec<_>>()
            .join("\n")
            .trim()
            .to_string()
    });
    // A described reference was wrapped in `allOf`; unwrap it again.
    if schema.all_of.len() == 1 {
        let only = schema.all_of.remove(0);
        if schema.is_empty() {
            return (only, description);
        }
        schema.all_of.push(only);
    }
    (MetaSchemaRef::Inline(schema), description)
}
