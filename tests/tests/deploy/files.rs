//! Static checks of `deploy/` and the root `.dockerignore`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::{
    ENTRYPOINT_VARIABLES, allowed_variables, at, deploy, read, server_variables, text, workspace,
    yaml, yaml_documents,
};

// ---------------------------------------------------------------------------------------------
// compose.yaml
// ---------------------------------------------------------------------------------------------

const API_SERVICES: [&str; 2] = ["api-1", "api-2"];

fn compose() -> Value {
    yaml(&deploy("compose.yaml"))
}

/// The `environment` of a compose service as a map (both the map and the list forms).
fn compose_environment(service: &Value) -> BTreeMap<String, String> {
    match &service["environment"] {
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| {
                let value = match v {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                (k.clone(), value)
            })
            .collect(),
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(|item| match item.split_once('=') {
                Some((k, v)) => (k.to_owned(), v.to_owned()),
                None => (item.to_owned(), String::new()),
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// The names of `${NAME}`, `${NAME:-default}`, `${NAME:?message}` interpolations in `text`
/// (comment lines aside).
fn interpolations(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
        for (at, _) in line.match_indices("${") {
            let name: String = line[at + 2..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                names.insert(name);
            }
        }
    }
    names
}

/// `KEY=value` lines of an env file.
fn env_file(path: &std::path::Path) -> BTreeMap<String, String> {
    read(path)
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (k, v) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("{}: not KEY=value: {line}", path.display()));
            (k.trim().to_owned(), v.trim().to_owned())
        })
        .collect()
}

#[test]
fn compose_has_two_replicas_a_proxy_postgres_and_mailpit_each_with_a_health_check() {
    let compose = compose();
    let services = compose["services"]
        .as_object()
        .expect("compose.yaml has services");
    let names: BTreeSet<&str> = services.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        BTreeSet::from(["api-1", "api-2", "proxy", "postgres", "mailpit"]),
        "compose services"
    );
    for (name, service) in services {
        let test = &service["healthcheck"]["test"];
        assert!(
            test.is_array() || test.is_string(),
            "service {name} has no health check"
        );
    }
    for api in API_SERVICES {
        let service = &services[api];
        assert_eq!(
            service["build"]["context"],
            json!(".."),
            "{api} build context"
        );
        assert_eq!(
            service["build"]["dockerfile"],
            json!("deploy/Dockerfile"),
            "{api} Dockerfile"
        );
        assert_eq!(
            service["healthcheck"]["test"],
            json!(["CMD", "/usr/local/bin/concierge-healthcheck"]),
            "{api} uses the image's health check"
        );
        for dependency in ["postgres", "mailpit"] {
            assert_eq!(
                service["depends_on"][dependency]["condition"],
                json!("service_healthy"),
                "{api} waits for a healthy {dependency}"
            );
        }
    }
    for api in API_SERVICES {
        assert_eq!(
            services["proxy"]["depends_on"][api]["condition"],
            json!("service_healthy"),
            "the proxy waits for a healthy {api}"
        );
    }
    let postgres = &services["postgres"];
    assert!(
        text(&postgres["image"], "postgres image").starts_with("postgres:15"),
        "PostgreSQL 15"
    );
    let volumes = postgres["volumes"].as_array().expect("postgres volumes");
    assert!(
        volumes
            .iter()
            .filter_map(Value::as_str)
            .any(|v| v.ends_with(":/var/lib/postgresql/data")),
        "PostgreSQL keeps its data in a volume: {volumes:?}"
    );
    let volume_name = volumes
        .iter()
        .filter_map(Value::as_str)
        .find_map(|v| v.strip_suffix(":/var/lib/postgresql/data"))
        .expect("data volume");
    assert!(
        compose["volumes"].get(volume_name).is_some(),
        "the volume {volume_name} is declared"
    );
    assert!(
        text(
            &postgres["environment"]["POSTGRES_INITDB_ARGS"],
            "initdb args"
        )
        .contains("UTF8"),
        "the database is created UTF-8"
    );
    assert!(
        text(&services["mailpit"]["image"], "mailpit image").starts_with("axllent/mailpit"),
        "Mailpit"
    );
}

#[test]
fn compose_replicas_share_their_keys_and_only_one_bootstraps() {
    let compose = compose();
    let allowed = allowed_variables();
    let environments: Vec<BTreeMap<String, String>> = API_SERVICES
        .iter()
        .map(|api| compose_environment(&compose["services"][*api]))
        .collect();
    for (api, environment) in API_SERVICES.iter().zip(&environments) {
        let unknown: Vec<&String> = environment
            .keys()
            .filter(|k| !allowed.contains(*k))
            .collect();
        assert!(
            unknown.is_empty(),
            "{api} sets variables nothing reads: {unknown:?} (known: {allowed:?})"
        );
        assert_eq!(
            environment.get("SMTP_URL").map(String::as_str),
            Some("smtp://mailpit:1025")
        );
        let database = environment.get("DATABASE_URL").expect("DATABASE_URL");
        assert!(
            database.starts_with("postgres://") && database.contains("@postgres:5432/"),
            "{api} uses the postgres service: {database}"
        );
        for key in ["JWT_SECRET", "CODE_PEPPER"] {
            let value = environment.get(key).map(String::as_str).unwrap_or("");
            assert!(
                value.starts_with(&format!("${{{key}:?")),
                "{api}: {key} must come from the env file, required: {value:?}"
            );
        }
    }
    for key in ["JWT_SECRET", "CODE_PEPPER", "DATABASE_URL"] {
        assert_eq!(
            environments[0].get(key),
            environments[1].get(key),
            "both replicas have the same {key}"
        );
    }
    // X-Forwarded-For is believed from the proxy's fixed address, and only from it.
    let proxy_address = text(
        &compose["services"]["proxy"]["networks"]["default"]["ipv4_address"],
        "the proxy's fixed address",
    );
    for environment in &environments {
        assert_eq!(
            environment.get("TRUSTED_PROXIES").map(String::as_str),
            Some(proxy_address),
            "the replicas trust the proxy, and only it"
        );
    }
    let subnet = text(
        &compose["networks"]["default"]["ipam"]["config"][0]["subnet"],
        "the network's subnet",
    );
    let prefix = subnet.rsplit_once('.').map(|(p, _)| p).unwrap_or("");
    assert!(
        subnet.ends_with(".0/24") && proxy_address.starts_with(&format!("{prefix}.")),
        "the proxy's address {proxy_address} lies in {subnet}"
    );
    for key in ["BOOTSTRAP_ADMIN_EMAIL", "BOOTSTRAP_ADMIN_PASSWORD"] {
        assert!(environments[0].contains_key(key), "api-1 bootstraps: {key}");
        assert!(
            !environments[1].contains_key(key),
            "api-2 must not bootstrap: {key}"
        );
    }
}

#[test]
fn the_env_file_example_defines_every_interpolated_variable_and_holds_no_secret() {
    let compose_text = read(&deploy("compose.yaml"));
    let used = interpolations(&compose_text);
    let example = env_file(&deploy("concierge.env.example"));
    let defined: BTreeSet<String> = example.keys().cloned().collect();
    let missing: Vec<&String> = used.difference(&defined).collect();
    assert!(
        missing.is_empty(),
        "compose.yaml interpolates {missing:?}, which concierge.env.example does not define"
    );
    let unused: Vec<&String> = defined.difference(&used).collect();
    assert!(
        unused.is_empty(),
        "concierge.env.example defines {unused:?}, which compose.yaml never uses"
    );
    for key in [
        "JWT_SECRET",
        "CODE_PEPPER",
        "POSTGRES_PASSWORD",
        "BOOTSTRAP_ADMIN_PASSWORD",
    ] {
        let value = example.get(key).map(String::as_str).unwrap_or("");
        assert!(
            value.contains("placeholder"),
            "{key} in the example must be an obvious placeholder, is {value:?}"
        );
    }
    let dockerignore = read(&workspace().join(".dockerignore"));
    assert!(
        dockerignore
            .lines()
            .any(|l| l.trim() == "deploy/concierge.env"),
        "the real env file stays out of the build context"
    );
}

#[test]
fn the_proxy_balances_round_robin_and_passes_websocket_upgrades() {
    let compose = compose();
    let proxy = &compose["services"]["proxy"];
    let mounts: Vec<&str> = proxy["volumes"]
        .as_array()
        .expect("proxy volumes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let config_mount = mounts
        .iter()
        .find(|m| m.contains("nginx.conf"))
        .expect("the proxy mounts deploy/nginx.conf");
    let source = config_mount.split(':').next().expect("mount source");
    let config_path = deploy(source.trim_start_matches("./"));
    let config = read(&config_path);
    let directives: Vec<String> = config
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect();
    let has = |wanted: &str| directives.iter().any(|d| d.starts_with(wanted));
    for api in API_SERVICES {
        assert!(
            has(&format!("server {api}:8080")),
            "nginx.conf balances over {api}"
        );
    }
    for other_method in ["ip_hash", "hash ", "least_conn", "random"] {
        assert!(
            !has(other_method),
            "round robin is asked for; nginx.conf uses {other_method}"
        );
    }
    assert!(has("proxy_http_version 1.1;"), "WebSocket needs HTTP/1.1");
    assert!(
        has("proxy_set_header Upgrade $http_upgrade;"),
        "the Upgrade header is passed on"
    );
    assert!(
        has("proxy_set_header Connection $connection_upgrade;")
            && has("map $http_upgrade $connection_upgrade"),
        "the Connection header becomes `upgrade` for WebSocket requests"
    );
    assert!(
        has("proxy_set_header Host $http_host;"),
        "Host keeps its port: the API matches a browser's Origin against it for WebSockets"
    );
    assert!(
        has("proxy_set_header X-Forwarded-For"),
        "the client's address reaches the API (TRUSTED_PROXIES)"
    );
    assert!(
        has("proxy_read_timeout"),
        "quiet subscriptions are not cut after nginx's default 60 s"
    );
    // A calendar feed's path is its secret: proxied like the rest, never in the access log.
    let feeds: Vec<&String> = directives
        .iter()
        .skip_while(|d| !d.starts_with("location /calendar/ {"))
        .skip(1)
        .take_while(|d| d.as_str() != "}")
        .collect();
    assert!(
        feeds.iter().any(|d| d.as_str() == "access_log off;"),
        "calendar feeds are not logged by the proxy: {feeds:?}"
    );
    assert!(
        feeds
            .iter()
            .any(|d| d.as_str() == "proxy_pass http://concierge;"),
        "calendar feeds are proxied to the API: {feeds:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Kubernetes
// ---------------------------------------------------------------------------------------------

/// Every manifest of `deploy/k8s` (kustomization.yaml aside): (file name, document).
fn manifests() -> Vec<(String, Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(deploy("k8s"))
        .expect("deploy/k8s")
        .map(|entry| entry.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .filter(|p| !p.ends_with("kustomization.yaml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("name")
            .to_owned();
        for document in yaml_documents(&path) {
            out.push((name.clone(), document));
        }
    }
    out
}

#[track_caller]
fn manifest(kind: &str, name: &str) -> Value {
    manifests()
        .into_iter()
        .map(|(_, d)| d)
        .find(|d| d["kind"] == json!(kind) && d["metadata"]["name"] == json!(name))
        .unwrap_or_else(|| panic!("no {kind} named {name} in deploy/k8s"))
}

/// The containers (and init containers) of a pod template.
fn containers(pod_spec: &Value) -> Vec<&Value> {
    ["initContainers", "containers"]
        .iter()
        .filter_map(|key| pod_spec[*key].as_array())
        .flatten()
        .collect()
}

#[test]
fn every_manifest_is_a_kubernetes_object_and_the_kustomization_lists_them() {
    let all = manifests();
    assert!(!all.is_empty(), "deploy/k8s holds manifests");
    for (file, document) in &all {
        for field in ["apiVersion", "kind"] {
            assert!(
                document[field].as_str().is_some_and(|s| !s.is_empty()),
                "{file}: a document without {field}"
            );
        }
        assert!(
            document["metadata"]["name"]
                .as_str()
                .is_some_and(|s| !s.is_empty()),
            "{file}: a {} without metadata.name",
            document["kind"]
        );
    }
    let kinds: BTreeSet<&str> = all.iter().filter_map(|(_, d)| d["kind"].as_str()).collect();
    for kind in [
        "ConfigMap",
        "Secret",
        "Deployment",
        "Service",
        "Job",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
    ] {
        assert!(kinds.contains(kind), "deploy/k8s has no {kind}: {kinds:?}");
    }

    let kustomization = yaml(&deploy("k8s/kustomization.yaml"));
    assert_eq!(kustomization["kind"], json!("Kustomization"));
    let resources: BTreeSet<String> = kustomization["resources"]
        .as_array()
        .expect("kustomization resources")
        .iter()
        .map(|r| text(r, "resource").to_owned())
        .collect();
    for resource in &resources {
        assert!(
            deploy("k8s").join(resource).is_file(),
            "kustomization.yaml lists {resource}, which does not exist"
        );
    }
    // Deliberately left out: placeholders that must never be applied over the real Secret,
    // and a one-off job.
    let left_out = BTreeSet::from(["secret.example.yaml", "bootstrap-job.yaml"]);
    let files: BTreeSet<&String> = all.iter().map(|(f, _)| f).collect();
    for file in files {
        assert_eq!(
            resources.contains(file),
            !left_out.contains(file.as_str()),
            "{file}: kustomization.yaml should list it{}",
            if left_out.contains(file.as_str()) {
                " not"
            } else {
                ""
            }
        );
    }
    let images = kustomization["images"].as_array().expect("images");
    assert!(
        images.iter().any(|i| i["name"] == json!("concierge")),
        "the kustomization sets the image of `concierge`"
    );
}

#[test]
fn the_deployment_probes_readyz_and_healthz_runs_as_non_root_and_drains_in_time() {
    let deployment = manifest("Deployment", "concierge");
    let spec = &deployment["spec"];
    assert_eq!(spec["replicas"], json!(2), "two replicas");
    let pod = &spec["template"]["spec"];
    let pod_security = &pod["securityContext"];
    assert_eq!(pod_security["runAsNonRoot"], json!(true), "runAsNonRoot");
    let uid = pod_security["runAsUser"].as_u64().expect("runAsUser");
    assert!(uid > 0, "a non-root uid");
    assert_eq!(
        uid,
        dockerfile_uid(),
        "the pod's uid is the image's user (volumes, runAsNonRoot)"
    );
    let api = containers(pod)
        .into_iter()
        .find(|c| c["name"] == json!("api"))
        .expect("the api container");
    let security = &api["securityContext"];
    assert_eq!(security["allowPrivilegeEscalation"], json!(false));
    assert_eq!(security["readOnlyRootFilesystem"], json!(true));
    assert_eq!(security["capabilities"]["drop"], json!(["ALL"]));

    assert_eq!(
        at(api, &["readinessProbe", "httpGet", "path"]),
        &json!("/readyz")
    );
    assert_eq!(
        at(api, &["livenessProbe", "httpGet", "path"]),
        &json!("/healthz")
    );
    assert!(
        api["startupProbe"]["httpGet"]["path"].is_string(),
        "a startup probe"
    );
    let ports: BTreeMap<&str, u64> = api["ports"]
        .as_array()
        .expect("ports")
        .iter()
        .map(|p| {
            (
                text(&p["name"], "port name"),
                p["containerPort"].as_u64().expect("containerPort"),
            )
        })
        .collect();
    for probe in ["readinessProbe", "livenessProbe", "startupProbe"] {
        let port = &api[probe]["httpGet"]["port"];
        let known = match port {
            Value::String(name) => ports.contains_key(name.as_str()),
            Value::Number(n) => ports.values().any(|p| Some(*p) == n.as_u64()),
            _ => false,
        };
        assert!(known, "{probe} targets a port the container opens: {port}");
    }
    let config = manifest("ConfigMap", "concierge-config");
    let listen = text(&config["data"]["LISTEN_ADDR"], "LISTEN_ADDR");
    let listen_port: u64 = listen
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a port in LISTEN_ADDR");
    assert!(
        ports.values().any(|p| *p == listen_port),
        "the container port is LISTEN_ADDR's ({listen})"
    );
    assert!(
        !listen.starts_with("127.") && !listen.starts_with("localhost"),
        "LISTEN_ADDR must be reachable from the kubelet: {listen}"
    );

    // Migrations are the Job's.
    let env: BTreeMap<&str, &str> = api["env"]
        .as_array()
        .expect("env")
        .iter()
        .filter_map(|e| Some((e["name"].as_str()?, e["value"].as_str()?)))
        .collect();
    assert_eq!(env.get("RUN_MIGRATIONS"), Some(&"false"));
    assert_eq!(env.get("AUTO_MIGRATE"), Some(&"false"));

    // A read-only root: MAIL_DIR must be a writable volume.
    let mail_dir = text(&config["data"]["MAIL_DIR"], "MAIL_DIR");
    let mount = api["volumeMounts"]
        .as_array()
        .expect("volumeMounts")
        .iter()
        .find(|m| m["mountPath"] == json!(mail_dir))
        .unwrap_or_else(|| panic!("MAIL_DIR {mail_dir} is not mounted"));
    let volume = pod["volumes"]
        .as_array()
        .expect("volumes")
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("the mailbox volume");
    assert!(volume["emptyDir"].is_object(), "MAIL_DIR is an emptyDir");

    assert!(
        api["resources"]["requests"]["cpu"].is_string()
            && api["resources"]["requests"]["memory"].is_string()
            && api["resources"]["limits"]["memory"].is_string(),
        "resources are set (the HPA needs the CPU request)"
    );

    let budget = DrainBudget::of_deployment();
    assert!(
        budget.pre_stop_seconds >= 5,
        "preStop sleeps while endpoints update"
    );
    assert!(
        budget.after_sigterm_seconds() > OUTBOX_FINAL_FLUSH_SECONDS + 10,
        "terminationGracePeriodSeconds must cover preStop ({} s), the outbox's final flush \
         ({OUTBOX_FINAL_FLUSH_SECONDS} s) and in-flight requests",
        budget.pre_stop_seconds
    );
}

/// The bound the e-mail outbox gives its final flush at shutdown (`shutdown_grace` in
/// api/src/mail/worker.rs): the longest part of the server's drain.
pub const OUTBOX_FINAL_FLUSH_SECONDS: u64 = 20;

/// How long the manifests let a replica take to stop.
pub struct DrainBudget {
    pub grace_seconds: u64,
    pub pre_stop_seconds: u64,
}

impl DrainBudget {
    pub fn of_deployment() -> DrainBudget {
        let deployment = manifest("Deployment", "concierge");
        let pod = &deployment["spec"]["template"]["spec"];
        let grace_seconds = pod["terminationGracePeriodSeconds"]
            .as_u64()
            .expect("terminationGracePeriodSeconds");
        let api = containers(pod)
            .into_iter()
            .find(|c| c["name"] == json!("api"))
            .expect("api container");
        let command = at(api, &["lifecycle", "preStop", "exec", "command"]);
        let pre_stop_seconds = command
            .as_array()
            .and_then(|c| match c.as_slice() {
                [sleep, seconds] if sleep == "sleep" => seconds.as_str()?.parse().ok(),
                _ => None,
            })
            .unwrap_or_else(|| panic!("preStop should be [\"sleep\", \"N\"], is {command}"));
        DrainBudget {
            grace_seconds,
            pre_stop_seconds,
        }
    }

    /// What is left for the process once SIGTERM arrives.
    pub fn after_sigterm_seconds(&self) -> u64 {
        self.grace_seconds.saturating_sub(self.pre_stop_seconds)
    }
}

/// compose's `stop_grace_period` of the API services, in seconds.
pub fn compose_stop_grace_seconds() -> u64 {
    let compose = compose();
    API_SERVICES
        .iter()
        .map(|api| {
            let period = text(
                &compose["services"][*api]["stop_grace_period"],
                "stop_grace_period",
            );
            period
                .strip_suffix('s')
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("stop_grace_period in seconds, like 45s: {period}"))
        })
        .min()
        .expect("api services")
}

#[test]
fn service_pdb_and_autoscaler_select_the_deployment() {
    let deployment = manifest("Deployment", "concierge");
    let labels = deployment["spec"]["template"]["metadata"]["labels"]
        .as_object()
        .expect("pod labels")
        .clone();
    let matches = |selector: &Value| {
        selector
            .as_object()
            .is_some_and(|s| !s.is_empty() && s.iter().all(|(k, v)| labels.get(k) == Some(v)))
    };
    assert!(matches(&deployment["spec"]["selector"]["matchLabels"]));
    let service = manifest("Service", "concierge");
    assert!(
        matches(&service["spec"]["selector"]),
        "the Service selects the pods"
    );
    let api = containers(&deployment["spec"]["template"]["spec"])
        .into_iter()
        .find(|c| c["name"] == json!("api"))
        .cloned()
        .expect("api");
    for port in service["spec"]["ports"].as_array().expect("service ports") {
        let target = &port["targetPort"];
        assert!(
            api["ports"]
                .as_array()
                .expect("ports")
                .iter()
                .any(|p| &p["name"] == target || &p["containerPort"] == target),
            "the Service targets a container port: {target}"
        );
    }
    let pdb = manifest("PodDisruptionBudget", "concierge");
    assert!(
        matches(&pdb["spec"]["selector"]["matchLabels"]),
        "the PDB selects the pods"
    );
    assert!(
        pdb["spec"]["minAvailable"].as_u64().is_some_and(|n| n >= 1)
            || pdb["spec"]["maxUnavailable"].as_u64() == Some(1),
        "the PDB keeps a replica up"
    );
    let hpa = manifest("HorizontalPodAutoscaler", "concierge");
    assert_eq!(hpa["spec"]["scaleTargetRef"]["kind"], json!("Deployment"));
    assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], json!("concierge"));
    assert!(hpa["spec"]["minReplicas"].as_u64().is_some_and(|n| n >= 2));
    assert!(
        hpa["spec"]["metrics"]
            .as_array()
            .expect("metrics")
            .iter()
            .any(|m| m["resource"]["name"] == json!("cpu")),
        "the HPA scales on CPU"
    );
}

#[test]
fn the_migration_job_runs_concierge_migrate_as_non_root() {
    let job = manifest("Job", "concierge-migrate");
    let pod = &job["spec"]["template"]["spec"];
    assert!(
        ["Never", "OnFailure"].contains(&text(&pod["restartPolicy"], "restartPolicy")),
        "a Job's pods never restart forever"
    );
    assert_eq!(pod["securityContext"]["runAsNonRoot"], json!(true));
    let container = containers(pod)[0];
    assert_eq!(
        container["args"],
        json!(["migrate"]),
        "the entrypoint hands `migrate` to the binary"
    );
    let env: BTreeSet<&str> = container["env"]
        .as_array()
        .expect("env")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert!(env.contains("DATABASE_URL"), "the Job needs DATABASE_URL");
}

#[test]
fn manifests_set_only_variables_the_server_or_the_entrypoint_reads() {
    let allowed = allowed_variables();
    let mut used: Vec<(String, String)> = Vec::new();
    for (file, document) in manifests() {
        match document["kind"].as_str() {
            Some("ConfigMap") => {
                for key in document["data"].as_object().into_iter().flatten() {
                    used.push((file.clone(), key.0.clone()));
                }
            }
            Some("Secret") => {
                for field in ["stringData", "data"] {
                    for key in document[field].as_object().into_iter().flatten() {
                        used.push((file.clone(), key.0.clone()));
                    }
                }
            }
            _ => {}
        }
        let pod = if document["kind"] == json!("Deployment") || document["kind"] == json!("Job") {
            document["spec"]["template"]["spec"].clone()
        } else {
            Value::Null
        };
        for container in containers(&pod) {
            for variable in container["env"].as_array().into_iter().flatten() {
                used.push((file.clone(), text(&variable["name"], "env name").to_owned()));
            }
            assert!(
                container["command"].is_null(),
                "{file}: containers keep the image's entrypoint (set args, not command)"
            );
        }
    }
    assert!(!used.is_empty());
    let unknown: Vec<&(String, String)> = used
        .iter()
        .filter(|(_, name)| !allowed.contains(name))
        .collect();
    assert!(
        unknown.is_empty(),
        "variables nothing reads: {unknown:?}; the server reads {allowed:?}"
    );
    // And what the entrypoint reads, it does read.
    let entrypoint = read(&deploy("entrypoint.sh"));
    for variable in ENTRYPOINT_VARIABLES {
        assert!(
            entrypoint.contains(variable),
            "entrypoint.sh reads {variable}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Dockerfile, .dockerignore, README
// ---------------------------------------------------------------------------------------------

/// The Dockerfile's instructions, continuation lines joined, comments dropped.
fn dockerfile_instructions() -> Vec<(String, String)> {
    let text = read(&deploy("Dockerfile"));
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || trimmed.is_empty() {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            current.push_str(head);
            current.push(' ');
            continue;
        }
        current.push_str(trimmed);
        let (keyword, rest) = current.split_once(' ').unwrap_or((&current, ""));
        instructions.push((keyword.to_ascii_uppercase(), rest.trim().to_owned()));
        current.clear();
    }
    instructions
}

/// The uid of the Dockerfile's final `USER`.
fn dockerfile_uid() -> u64 {
    let user = dockerfile_instructions()
        .into_iter()
        .rev()
        .find(|(k, _)| k == "USER")
        .map(|(_, v)| v)
        .expect("the Dockerfile sets USER");
    user.split(':')
        .next()
        .and_then(|u| u.parse().ok())
        .unwrap_or_else(|| panic!("USER should be a numeric uid (runAsNonRoot checks it): {user}"))
}

#[test]
fn the_dockerfile_builds_with_rust_and_runs_slim_as_a_fixed_non_root_user() {
    let instructions = dockerfile_instructions();
    let args: BTreeMap<String, String> = instructions
        .iter()
        .filter(|(k, _)| k == "ARG")
        .filter_map(|(_, v)| v.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let stages: Vec<String> = instructions
        .iter()
        .filter(|(k, _)| k == "FROM")
        .map(|(_, v)| {
            let image = v.split_whitespace().next().expect("FROM image");
            match image.strip_prefix("${").and_then(|s| s.strip_suffix('}')) {
                Some(arg) => args
                    .get(arg)
                    .unwrap_or_else(|| panic!("FROM uses ARG {arg}, which has no default"))
                    .clone(),
                None => image.to_owned(),
            }
        })
        .collect();
    assert!(
        stages.iter().any(|s| s == "rust:1-bookworm"),
        "built with rust:1-bookworm: {stages:?}"
    );
    assert_eq!(
        stages.last().map(String::as_str),
        Some("debian:bookworm-slim"),
        "runs on debian:bookworm-slim"
    );
    let runs: Vec<&String> = instructions
        .iter()
        .filter(|(k, _)| k == "RUN")
        .map(|(_, v)| v)
        .collect();
    assert!(
        runs.iter().any(|r| r.contains("cargo build --release")
            && r.contains("-p concierge-api")
            && r.contains("--locked")),
        "cargo build --release --locked -p concierge-api"
    );
    assert!(
        runs.iter().any(|r| r.contains("deploy/cargo-skeleton.sh")),
        "dependencies are built from the skeleton first"
    );
    assert!(
        runs.iter()
            .any(|r| r.contains("--no-install-recommends ca-certificates")),
        "the runtime installs ca-certificates, nothing recommended with it"
    );
    assert!(
        dockerfile_uid() >= 1000,
        "a fixed, non-system, non-root uid"
    );
    let find = |keyword: &str| -> Vec<String> {
        instructions
            .iter()
            .filter(|(k, _)| k == keyword)
            .map(|(_, v)| v.clone())
            .collect()
    };
    assert!(
        find("EXPOSE")
            .iter()
            .any(|e| e.split_whitespace().any(|p| p == "8080")),
        "EXPOSE 8080"
    );
    let env = find("ENV").join(" ");
    for setting in [
        "LISTEN_ADDR=0.0.0.0:8080",
        "APP_ENV=production",
        "LOG_FORMAT=json",
    ] {
        assert!(env.contains(setting), "ENV {setting}");
    }
    let env_names: Vec<&str> = env
        .split_whitespace()
        .filter_map(|pair| pair.split_once('=').map(|(k, _)| k))
        .collect();
    let known = server_variables();
    for name in env_names {
        assert!(
            known.contains(name),
            "the image sets {name}, which nothing reads"
        );
    }
    // Files copied from the build context exist, and the installed scripts are what the
    // health check and the entry point run.
    let mut installed = BTreeMap::new();
    for copy in find("COPY") {
        let parts: Vec<&str> = copy
            .split_whitespace()
            .filter(|p| !p.starts_with("--"))
            .collect();
        if copy.contains("--from=") || parts.len() != 2 {
            continue;
        }
        if parts[0] != "." {
            assert!(
                workspace().join(parts[0]).exists(),
                "COPY {} refers to a missing file",
                parts[0]
            );
            installed.insert(parts[1].to_owned(), parts[0].to_owned());
        }
    }
    let healthcheck = find("HEALTHCHECK").join(" ");
    let entrypoint = find("ENTRYPOINT").join(" ");
    let script_of = |instruction: &str| -> String {
        installed
            .iter()
            .find(|(target, _)| instruction.contains(target.as_str()))
            .map(|(_, source)| source.clone())
            .unwrap_or_else(|| panic!("{instruction} runs no script the Dockerfile copies"))
    };
    assert_eq!(script_of(&healthcheck), "deploy/healthcheck.sh");
    assert_eq!(script_of(&entrypoint), "deploy/entrypoint.sh");
    assert!(
        healthcheck.contains("--interval") && healthcheck.contains("--timeout"),
        "HEALTHCHECK with an interval and a timeout"
    );
    for script in ["entrypoint.sh", "healthcheck.sh", "cargo-skeleton.sh"] {
        let path = deploy(script);
        assert!(path.is_file(), "deploy/{script} exists");
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path)
            .expect("metadata")
            .permissions()
            .mode();
        assert!(mode & 0o111 != 0, "deploy/{script} is executable");
    }
    assert_eq!(
        find("CMD"),
        vec![r#"["serve"]"#.to_owned()],
        "CMD [\"serve\"]"
    );
}

#[test]
fn the_dockerignore_keeps_build_output_history_and_mail_out() {
    let ignore = read(&workspace().join(".dockerignore"));
    let lines: BTreeSet<&str> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    for wanted in ["target/", ".git/", "mailbox/"] {
        assert!(
            lines.contains(wanted) || lines.contains(wanted.trim_end_matches('/')),
            ".dockerignore leaves out {wanted}: {lines:?}"
        );
    }
}

#[test]
fn the_operators_guide_documents_every_variable_the_server_reads() {
    let guide = read(&deploy("README.md"));
    let mut missing: Vec<String> = allowed_variables()
        .into_iter()
        .filter(|name| !guide.contains(&format!("`{name}`")))
        .collect();
    missing.sort();
    assert!(
        missing.is_empty(),
        "deploy/README.md does not document {missing:?}"
    );
}

/// The dependency skeleton (deploy/cargo-skeleton.sh, the Dockerfile's cached layer) must
/// resolve to exactly the workspace's packages and targets, from the same Cargo.lock.
#[test]
fn the_dependency_skeleton_resolves_to_the_workspace_graph() {
    let scratch = std::env::temp_dir().join(format!("concierge-skeleton-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let status = Command::new("sh")
        .arg(deploy("cargo-skeleton.sh"))
        .arg(&scratch)
        .current_dir(workspace())
        .env("CARGO", cargo())
        .env("PATH", path_with_cargo())
        .stdin(Stdio::null())
        .status()
        .expect("sh runs");
    assert!(status.success(), "cargo-skeleton.sh failed: {status}");
    let real = metadata(&workspace().join("Cargo.toml"));
    let skeleton = metadata(&scratch.join("Cargo.toml"));
    let _ = std::fs::remove_dir_all(&scratch);
    assert_eq!(
        summary(&skeleton),
        summary(&real),
        "the skeleton's graph differs from the workspace's"
    );
}

fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// PATH with the directory of the cargo running the tests first (the script calls `cargo`).
fn path_with_cargo() -> std::ffi::OsString {
    let cargo = PathBuf::from(cargo());
    let mut paths: Vec<PathBuf> = cargo.parent().map(PathBuf::from).into_iter().collect();
    if let Some(path) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(paths).expect("a PATH")
}

/// The triple of the machine running the tests (`rustc -vV`'s `host:`), from the rustc beside
/// the cargo running them.
fn host_triple() -> String {
    let output = Command::new("rustc")
        .arg("-vV")
        .env("PATH", path_with_cargo())
        .stdin(Stdio::null())
        .output()
        .expect("rustc runs");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .map(str::to_owned)
        .expect("rustc -vV names the host")
}

/// The resolved graph for this machine's platform only: offline, dependencies of other
/// platforms (never downloaded by a build here) are not needed.
fn metadata(manifest: &std::path::Path) -> Value {
    let output = Command::new(cargo())
        .args(["metadata", "--format-version", "1", "--offline", "--locked"])
        .args(["--filter-platform", &host_triple()])
        .arg("--manifest-path")
        .arg(manifest)
        .stdin(Stdio::null())
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata --manifest-path {} failed:\n{}",
        manifest.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("cargo metadata JSON")
}

/// Every package by name, version and source (paths aside), with its targets (name, kinds).
fn summary(metadata: &Value) -> BTreeSet<String> {
    metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| {
            let source = p["source"].as_str().unwrap_or("path");
            let mut targets: Vec<String> = p["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|t| format!("{}{}", t["name"], t["kind"]))
                .collect();
            targets.sort();
            format!(
                "{} {} {source} [{}]",
                p["name"].as_str().unwrap_or("?"),
                p["version"].as_str().unwrap_or("?"),
                if source == "path" {
                    targets.join(", ")
                } else {
                    String::new()
                }
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Keys and trusted proxies (issue 16)
// ---------------------------------------------------------------------------------------------

/// The server's configuration from these variables, with `APP_ENV=production` (as the image
/// runs).
fn production_config(
    pairs: &[(&str, &str)],
) -> Result<concierge_api::config::Config, concierge_api::config::ConfigError> {
    let mut vars: std::collections::HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    vars.insert("APP_ENV".into(), "production".into());
    concierge_api::config::Config::from_vars(&vars)
}

#[test]
fn the_placeholder_keys_shown_in_deploy_are_refused_in_production() {
    let real = "f3a1c29e0b7d4e65a8c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3";
    production_config(&[("JWT_SECRET", real), ("CODE_PEPPER", &real[1..])])
        .expect("real keys of 64 hex digits start");
    let example = env_file(&deploy("concierge.env.example"));
    let secret = manifest("Secret", "concierge-secrets");
    let mut shown = Vec::new();
    for key in ["JWT_SECRET", "CODE_PEPPER"] {
        shown.push((key, example.get(key).cloned().expect("in the env example")));
        shown.push((
            key,
            text(&secret["stringData"][key], "the Secret example").to_owned(),
        ));
    }
    for (key, placeholder) in shown {
        assert!(
            placeholder.len() >= 32,
            "{key}: a long placeholder, so that only the placeholder rule refuses it"
        );
        let other = if key == "JWT_SECRET" {
            "CODE_PEPPER"
        } else {
            "JWT_SECRET"
        };
        let refused = production_config(&[(key, &placeholder), (other, real)])
            .err()
            .unwrap_or_else(|| panic!("{key}={placeholder} starts in production"));
        assert!(refused.to_string().contains(key), "{refused}");
    }
    // Nor without keys, or with short ones.
    assert!(production_config(&[]).is_err());
    assert!(production_config(&[("JWT_SECRET", "short"), ("CODE_PEPPER", real)]).is_err());
}

#[test]
fn the_kubernetes_config_trusts_only_the_ingress_range() {
    let config = manifest("ConfigMap", "concierge-config");
    let list = text(&config["data"]["TRUSTED_PROXIES"], "TRUSTED_PROXIES");
    concierge_api::client_address::TrustedProxies::parse(list).expect("the server reads it");
    for entry in list.split(',').map(str::trim) {
        let (address, bits) = entry.split_once('/').unwrap_or((entry, "32"));
        let bits: u8 = bits.parse().expect("a prefix length");
        let address: std::net::IpAddr = address.parse().expect("an address");
        assert!(
            if address.is_ipv4() {
                bits >= 24
            } else {
                bits >= 112
            },
            "TRUSTED_PROXIES {entry} is wider than an ingress's pods"
        );
    }
    // The comment above it says how to set it.
    let text = read(&deploy("k8s/configmap.yaml"));
    let comment: Vec<&str> = text
        .lines()
        .take_while(|line| !line.trim_start().starts_with("TRUSTED_PROXIES:"))
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .take_while(|line| line.trim_start().starts_with('#'))
        .collect();
    let comment = comment.join("\n");
    assert!(
        comment.contains("kubectl") && comment.contains("ingress"),
        "no comment saying how to set TRUSTED_PROXIES: {comment:?}"
    );
}
