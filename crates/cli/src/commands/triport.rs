//! `affiliate triport user <uuid>`: Triport's operator view of one user.

use affiliate::triport::{OperatorView, TriportBuilder};
use affiliate::ErrorKind;

use crate::args::{UserArgs, ViewFormat};
use crate::config::{
    missing_var, Config, ConfigError, ConfigErrors, Env, ProcessEnv, ProviderSpec,
};
use crate::error::Failure;
use crate::table;

/// Runs `affiliate triport user`.
pub(crate) async fn user(args: UserArgs) -> Result<(), Failure> {
    let id = uuid::Uuid::parse_str(args.uuid.trim()).map_err(|_| {
        Failure::Usage(format!(
            "{:?} is not a Triport user id\n  fix: pass the user's UUID, e.g. 3f8c2a1e-9b4d-4c7a-8e21-6f0a1b2c3d4e",
            args.uuid
        ))
    })?;
    let env = ProcessEnv;
    let (base_url, token_var, token_key) = match &args.config {
        None => (
            env.var("TRIPORT_BASE_URL"),
            "TRIPORT_ADMIN_TOKEN".to_owned(),
            "TRIPORT_ADMIN_TOKEN".to_owned(),
        ),
        Some(path) => {
            let config = Config::load(path)?;
            let spec = config
                .sources
                .iter()
                .filter(|s| matches!(s.provider, ProviderSpec::Triport(_)))
                .find(|s| args.label.as_ref().is_none_or(|l| *l == s.label))
                .ok_or_else(|| {
                    let what = match &args.label {
                        Some(l) => format!("no Triport source is labelled {l:?}"),
                        None => "no [[source]] has provider = \"triport\"".to_owned(),
                    };
                    ConfigErrors::one(
                        path,
                        ConfigError::new("source", what)
                            .fix("add a Triport source, or leave out --config to use TRIPORT_BASE_URL and TRIPORT_ADMIN_TOKEN"),
                    )
                })?;
            let ProviderSpec::Triport(triport) = &spec.provider else {
                return Err(Failure::Usage("not a Triport source".into()));
            };
            let key = format!("{}: {}.admin_token_env", path.display(), spec.key);
            (
                spec.base_url
                    .clone()
                    .or_else(|| env.var("TRIPORT_BASE_URL")),
                triport.admin_token_env.clone(),
                key,
            )
        }
    };
    let Some(token) = env.var(&token_var) else {
        let err = missing_var(
            &token_key,
            &token_var,
            "the Triport operator token (X-Admin-Token)",
        );
        return Err(Failure::Usage(format!(
            "{}: {}\n  fix: {}",
            err.key, err.message, err.fix
        )));
    };
    let mut builder = TriportBuilder::new().with_admin_token(token);
    if let Some(url) = base_url {
        builder = builder.with_base_url(url);
    }
    let client = builder
        .build()
        .map_err(|e| Failure::Usage(format!("Triport settings: {e}")))?;
    let view = client
        .get_user(&id.hyphenated().to_string())
        .await
        .map_err(|e| match e.kind() {
            ErrorKind::Unauthenticated | ErrorKind::PermissionDenied => Failure::Failed(format!(
                "{e}\n  fix: check that {token_var} holds a valid operator token"
            )),
            _ => Failure::Failed(e.to_string()),
        })?;
    match args.format {
        ViewFormat::Json => {
            let text = serde_json::to_string_pretty(&view)
                .map_err(|e| Failure::Failed(format!("encoding JSON: {e}")))?;
            println!("{text}");
        }
        ViewFormat::Table => print!("{}", view_text(&view)),
    }
    Ok(())
}

/// The view as readable text.
fn view_text(view: &OperatorView) -> String {
    let rate = format!(
        "{}.{:02} %",
        view.rate_bps / 100,
        (view.rate_bps % 100).abs()
    );
    let fields = [
        ("user", view.user_id.clone()),
        ("tier", format!("{} ({})", view.tier_label, view.tier)),
        ("commission", rate),
        ("primary code", view.primary_code.clone()),
        (
            "custom slug",
            view.custom_slug.clone().unwrap_or_else(|| "-".into()),
        ),
        ("paid invitees", view.paid_invitees_info.to_string()),
        (
            "balance pending",
            table::units(view.balance.pending_micro.into()),
        ),
        (
            "balance available",
            table::units(view.balance.available_micro.into()),
        ),
        (
            "lifetime earned",
            table::units(view.balance.lifetime_micro.into()),
        ),
    ];
    let mut out = String::new();
    for (name, value) in fields {
        out.push_str(&format!("{name:<18} {value}\n"));
    }
    let rows: Vec<Vec<String>> = view
        .recent_attributions
        .iter()
        .map(|a| {
            let event = serde_json::to_value(&a.event)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            vec![
                a.id.clone(),
                event,
                a.created_at
                    .map(|t| t.format("%Y-%m-%d %H:%M:%SZ").to_string())
                    .unwrap_or_default(),
            ]
        })
        .collect();
    out.push_str(&format!(
        "\nrecent attributions ({}, newest first)\n",
        rows.len()
    ));
    if !rows.is_empty() {
        out.push_str(&table::render(
            &[("id", true), ("event", false), ("at", false)],
            &rows,
        ));
    }
    out
}
