"""Field tables of the built-in kinds the server decodes strictly, per Kubernetes version.

A real API server decodes a built-in object into its Go type: a field the type does not have is
dropped, and under ``fieldValidation=Strict`` the request fails with
``strict decoding error: unknown field "spec.x"``. The tables below list the fields of the
built-in kinds Joulie's manifests use (CRDs, Namespace, ServiceAccount, Service, RBAC,
Deployment, DaemonSet, StatefulSet), with the minor version in which each newer field appeared
(``"name@30"`` = since 1.30). They are written from the Kubernetes API reference of 1.25 and the
release notes of 1.26-1.32. In doubt they are stricter than the real server: a field missing here
is refused, never silently accepted. Kinds without a table (Pod, Node, Event, Lease, ConfigMap)
are stored as sent.

Notation: ``A`` any JSON value; a dict is an object with exactly those fields; ``[s]`` a list of
``s``; ``MapOf(s)`` an object with free keys whose values are ``s``; ``Ref(name)`` a named table
(recursive types); ``SchemaOr(s)`` ``s`` when the value is an object, a list of ``s`` when it is a
list, anything else as is (JSONSchemaPropsOrArray / OrBool).
"""

A = "any"


class MapOf:
    def __init__(self, value):
        self.value = value


class Ref:
    def __init__(self, name):
        self.name = name


class SchemaOr:
    def __init__(self, value):
        self.value = value


def _split(key):
    name, _, since = key.partition("@")
    return name, int(since) if since else 0


# ---------------------------------------------------------------------------- shared structures
OBJECT_META = {
    "name": A, "generateName": A, "namespace": A, "selfLink": A, "uid": A, "resourceVersion": A,
    "generation": A, "creationTimestamp": A, "deletionTimestamp": A,
    "deletionGracePeriodSeconds": A, "labels": A, "annotations": A,
    "ownerReferences": [{"apiVersion": A, "kind": A, "name": A, "uid": A, "controller": A,
                         "blockOwnerDeletion": A}],
    "finalizers": A, "managedFields": A,
}
LABEL_SELECTOR = {"matchLabels": A, "matchExpressions": [{"key": A, "operator": A, "values": A}]}
NODE_SELECTOR_TERM = {"matchExpressions": [{"key": A, "operator": A, "values": A}],
                      "matchFields": [{"key": A, "operator": A, "values": A}]}
POD_AFFINITY_TERM = {"labelSelector": LABEL_SELECTOR, "namespaces": A, "topologyKey": A,
                     "namespaceSelector": LABEL_SELECTOR, "matchLabelKeys@29": A,
                     "mismatchLabelKeys@29": A}
POD_AFFINITY = {
    "requiredDuringSchedulingIgnoredDuringExecution": [POD_AFFINITY_TERM],
    "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": A,
                                                         "podAffinityTerm": POD_AFFINITY_TERM}],
}
AFFINITY = {
    "nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [NODE_SELECTOR_TERM]},
        "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": A,
                                                             "preference": NODE_SELECTOR_TERM}],
    },
    "podAffinity": POD_AFFINITY,
    "podAntiAffinity": POD_AFFINITY,
}
SELINUX = {"user": A, "role": A, "type": A, "level": A}
WINDOWS = {"gmsaCredentialSpecName": A, "gmsaCredentialSpec": A, "runAsUserName": A,
           "hostProcess": A}
SECCOMP = {"type": A, "localhostProfile": A}
CONTAINER_SECURITY = {
    "capabilities": {"add": A, "drop": A}, "privileged": A, "seLinuxOptions": SELINUX,
    "windowsOptions": WINDOWS, "runAsUser": A, "runAsGroup": A, "runAsNonRoot": A,
    "readOnlyRootFilesystem": A, "allowPrivilegeEscalation": A, "procMount": A,
    "seccompProfile": SECCOMP, "appArmorProfile@30": SECCOMP,
}
POD_SECURITY = {
    "seLinuxOptions": SELINUX, "windowsOptions": WINDOWS, "runAsUser": A, "runAsGroup": A,
    "runAsNonRoot": A, "supplementalGroups": A, "fsGroup": A,
    "sysctls": [{"name": A, "value": A}], "fsGroupChangePolicy": A, "seccompProfile": SECCOMP,
    "appArmorProfile@30": SECCOMP, "supplementalGroupsPolicy@31": A, "seLinuxChangePolicy@32": A,
}
KEY_REF = {"name": A, "key": A, "optional": A}
ENV_VAR = {"name": A, "value": A, "valueFrom": {
    "fieldRef": {"apiVersion": A, "fieldPath": A},
    "resourceFieldRef": {"containerName": A, "resource": A, "divisor": A},
    "configMapKeyRef": KEY_REF, "secretKeyRef": KEY_REF}}
HTTP_GET = {"path": A, "port": A, "host": A, "scheme": A, "httpHeaders": [{"name": A, "value": A}]}
HANDLER = {"exec": {"command": A}, "httpGet": HTTP_GET, "tcpSocket": {"port": A, "host": A},
           "sleep@29": {"seconds": A}}
PROBE = {"exec": {"command": A}, "httpGet": HTTP_GET, "tcpSocket": {"port": A, "host": A},
         "grpc": {"port": A, "service": A}, "initialDelaySeconds": A, "timeoutSeconds": A,
         "periodSeconds": A, "successThreshold": A, "failureThreshold": A,
         "terminationGracePeriodSeconds": A}
CONTAINER = {
    "name": A, "image": A, "command": A, "args": A, "workingDir": A,
    "ports": [{"name": A, "hostPort": A, "containerPort": A, "protocol": A, "hostIP": A}],
    "envFrom": [{"prefix": A, "configMapRef": {"name": A, "optional": A},
                 "secretRef": {"name": A, "optional": A}}],
    "env": [ENV_VAR],
    "resources": {"limits": A, "requests": A, "claims@26": [{"name": A, "request@31": A}]},
    "resizePolicy@27": [{"resourceName": A, "restartPolicy": A}],
    "restartPolicy@28": A,
    "volumeMounts": [{"name": A, "readOnly": A, "mountPath": A, "subPath": A,
                      "mountPropagation": A, "subPathExpr": A, "recursiveReadOnly@30": A}],
    "volumeDevices": [{"name": A, "devicePath": A}],
    "livenessProbe": PROBE, "readinessProbe": PROBE, "startupProbe": PROBE,
    "lifecycle": {"postStart": HANDLER, "preStop": HANDLER},
    "terminationMessagePath": A, "terminationMessagePolicy": A, "imagePullPolicy": A,
    "securityContext": CONTAINER_SECURITY, "stdin": A, "stdinOnce": A, "tty": A,
}
# Volume sources Joulie might use are spelled out; the legacy in-tree ones are accepted whole.
VOLUME = {
    "name": A,
    "hostPath": {"path": A, "type": A},
    "emptyDir": {"medium": A, "sizeLimit": A},
    "configMap": {"name": A, "items": [{"key": A, "path": A, "mode": A}], "defaultMode": A,
                  "optional": A},
    "secret": {"secretName": A, "items": [{"key": A, "path": A, "mode": A}], "defaultMode": A,
               "optional": A},
    "persistentVolumeClaim": {"claimName": A, "readOnly": A},
    "projected": {"sources": A, "defaultMode": A},
    "downwardAPI": {"items": A, "defaultMode": A},
    "ephemeral": {"volumeClaimTemplate": A},
    "csi": {"driver": A, "readOnly": A, "fsType": A, "volumeAttributes": A,
            "nodePublishSecretRef": {"name": A}},
    "nfs": {"server": A, "path": A, "readOnly": A},
    "image@31": {"reference": A, "pullPolicy": A},
}
for _legacy in ("awsElasticBlockStore", "gcePersistentDisk", "gitRepo", "iscsi", "glusterfs", "rbd",
                "flexVolume", "cinder", "cephfs", "flocker", "fc", "azureFile", "azureDisk",
                "vsphereVolume", "quobyte", "photonPersistentDisk", "portworxVolume", "scaleIO",
                "storageos"):
    VOLUME[_legacy] = A
POD_SPEC = {
    "volumes": [VOLUME], "initContainers": [CONTAINER], "containers": [CONTAINER],
    "ephemeralContainers": A, "restartPolicy": A, "terminationGracePeriodSeconds": A,
    "activeDeadlineSeconds": A, "dnsPolicy": A, "nodeSelector": A, "serviceAccountName": A,
    "serviceAccount": A, "automountServiceAccountToken": A, "nodeName": A, "hostNetwork": A,
    "hostPID": A, "hostIPC": A, "shareProcessNamespace": A, "securityContext": POD_SECURITY,
    "imagePullSecrets": [{"name": A}], "hostname": A, "subdomain": A, "affinity": AFFINITY,
    "schedulerName": A,
    "tolerations": [{"key": A, "operator": A, "value": A, "effect": A, "tolerationSeconds": A}],
    "hostAliases": [{"ip": A, "hostnames": A}], "priorityClassName": A, "priority": A,
    "dnsConfig": {"nameservers": A, "searches": A, "options": [{"name": A, "value": A}]},
    "readinessGates": [{"conditionType": A}], "runtimeClassName": A, "enableServiceLinks": A,
    "preemptionPolicy": A, "overhead": A,
    "topologySpreadConstraints": [{"maxSkew": A, "topologyKey": A, "whenUnsatisfiable": A,
                                   "labelSelector": LABEL_SELECTOR, "minDomains": A,
                                   "nodeAffinityPolicy": A, "nodeTaintsPolicy": A,
                                   "matchLabelKeys": A}],
    "setHostnameAsFQDN": A, "os": {"name": A}, "hostUsers": A,
    "schedulingGates@26": [{"name": A}], "resourceClaims@26": A, "resources@32": A,
}
POD_TEMPLATE = {"metadata": OBJECT_META, "spec": POD_SPEC}


def _top(spec=None, **extra):
    out = {"apiVersion": A, "kind": A, "metadata": OBJECT_META}
    if spec is not None:
        out["spec"] = spec
    out.update(extra)
    return out


# ------------------------------------------------------------------------------ CRD (recursive)
JSON_SCHEMA_PROPS = {
    "id": A, "$schema": A, "$ref": A, "description": A, "type": A, "format": A, "title": A,
    "default": A, "maximum": A, "exclusiveMaximum": A, "minimum": A, "exclusiveMinimum": A,
    "maxLength": A, "minLength": A, "pattern": A, "maxItems": A, "minItems": A,
    "uniqueItems": A, "multipleOf": A, "enum": A, "maxProperties": A, "minProperties": A,
    "required": A, "items": SchemaOr(Ref("props")), "allOf": [Ref("props")],
    "oneOf": [Ref("props")], "anyOf": [Ref("props")], "not": Ref("props"),
    "properties": MapOf(Ref("props")), "additionalProperties": SchemaOr(Ref("props")),
    "patternProperties": MapOf(Ref("props")), "dependencies": A,
    "additionalItems": SchemaOr(Ref("props")), "definitions": MapOf(Ref("props")),
    "externalDocs": {"description": A, "url": A}, "example": A, "nullable": A,
    "x-kubernetes-preserve-unknown-fields": A, "x-kubernetes-embedded-resource": A,
    "x-kubernetes-int-or-string": A, "x-kubernetes-list-map-keys": A,
    "x-kubernetes-list-type": A, "x-kubernetes-map-type": A,
    "x-kubernetes-validations": [{"rule": A, "message": A, "messageExpression@26": A,
                                  "reason@28": A, "fieldPath@28": A, "optionalOldSelf@29": A}],
}
CRD = _top({
    "group": A,
    "names": {"plural": A, "singular": A, "shortNames": A, "kind": A, "listKind": A,
              "categories": A},
    "scope": A,
    "versions": [{
        "name": A, "served": A, "storage": A, "deprecated": A, "deprecationWarning": A,
        "schema": {"openAPIV3Schema": Ref("props")},
        "subresources": {"status": A, "scale": {"specReplicasPath": A, "statusReplicasPath": A,
                                                "labelSelectorPath": A}},
        "additionalPrinterColumns": [{"name": A, "type": A, "format": A, "description": A,
                                      "priority": A, "jsonPath": A}],
        "selectableFields@30": [{"jsonPath": A}],
    }],
    "conversion": {"strategy": A, "webhook": {
        "clientConfig": {"url": A, "caBundle": A,
                         "service": {"namespace": A, "name": A, "path": A, "port": A}},
        "conversionReviewVersions": A}},
    "preserveUnknownFields": A,
}, status=A)

# -------------------------------------------------------------------------------- other kinds
POLICY_RULE = {"verbs": A, "apiGroups": A, "resources": A, "resourceNames": A, "nonResourceURLs": A}
BINDING = _top(subjects=[{"kind": A, "apiGroup": A, "name": A, "namespace": A}],
               roleRef={"apiGroup": A, "kind": A, "name": A})

TABLES = {
    "apiextensions.k8s.io/customresourcedefinitions": CRD,
    "/namespaces": _top({"finalizers": A}, status=A),
    "/serviceaccounts": _top(secrets=A, imagePullSecrets=[{"name": A}],
                             automountServiceAccountToken=A),
    "/services": _top({
        "ports": [{"name": A, "protocol": A, "appProtocol": A, "port": A, "targetPort": A,
                   "nodePort": A}],
        "selector": A, "clusterIP": A, "clusterIPs": A, "type": A, "externalIPs": A,
        "sessionAffinity": A, "loadBalancerIP": A, "loadBalancerSourceRanges": A,
        "externalName": A, "externalTrafficPolicy": A, "healthCheckNodePort": A,
        "publishNotReadyAddresses": A, "sessionAffinityConfig": A, "ipFamilies": A,
        "ipFamilyPolicy": A, "allocateLoadBalancerNodePorts": A, "loadBalancerClass": A,
        "internalTrafficPolicy": A, "trafficDistribution@30": A}, status=A),
    "rbac.authorization.k8s.io/clusterroles": _top(
        rules=[POLICY_RULE], aggregationRule={"clusterRoleSelectors": [LABEL_SELECTOR]}),
    "rbac.authorization.k8s.io/roles": _top(rules=[POLICY_RULE]),
    "rbac.authorization.k8s.io/clusterrolebindings": BINDING,
    "rbac.authorization.k8s.io/rolebindings": BINDING,
    "apps/deployments": _top({
        "replicas": A, "selector": LABEL_SELECTOR, "template": POD_TEMPLATE,
        "strategy": {"type": A, "rollingUpdate": {"maxUnavailable": A, "maxSurge": A}},
        "minReadySeconds": A, "revisionHistoryLimit": A, "paused": A,
        "progressDeadlineSeconds": A}, status=A),
    "apps/daemonsets": _top({
        "selector": LABEL_SELECTOR, "template": POD_TEMPLATE,
        "updateStrategy": {"type": A, "rollingUpdate": {"maxUnavailable": A, "maxSurge": A}},
        "minReadySeconds": A, "revisionHistoryLimit": A}, status=A),
    "apps/statefulsets": _top({
        "replicas": A, "selector": LABEL_SELECTOR, "template": POD_TEMPLATE,
        "volumeClaimTemplates": A, "serviceName": A, "podManagementPolicy": A,
        "updateStrategy": {"type": A, "rollingUpdate": {"partition": A, "maxUnavailable": A}},
        "revisionHistoryLimit": A, "minReadySeconds": A,
        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": A, "whenScaled": A},
        "ordinals@26": {"start": A}}, status=A),
}
NAMED = {"props": JSON_SCHEMA_PROPS}


def check(value, table, minor, path="", unknown=None):
    """Returns ``(pruned value, unknown)``: the value without the fields version 1.``minor`` does
    not know, and their paths (``spec.versions[0].selectableFields``), in document order."""
    if unknown is None:
        unknown = []
    return _check(value, table, minor, path, unknown), unknown


def _check(value, table, minor, path, unknown):
    if isinstance(table, Ref):
        table = NAMED[table.name]
    if table == A:
        return value
    if isinstance(table, SchemaOr):
        if isinstance(value, list):
            return [_check(v, table.value, minor, "%s[%d]" % (path, i), unknown)
                    for i, v in enumerate(value)]
        if isinstance(value, dict):
            return _check(value, table.value, minor, path, unknown)
        return value
    if isinstance(table, MapOf):
        if not isinstance(value, dict):
            return value
        return {k: _check(v, table.value, minor, _join(path, k), unknown) for k, v in value.items()}
    if isinstance(table, list):
        if not isinstance(value, list):
            return value
        return [_check(v, table[0], minor, "%s[%d]" % (path, i), unknown)
                for i, v in enumerate(value)]
    if not isinstance(value, dict):
        return value        # a type error, not an unknown field: left to validation
    known = {}
    for key, sub in table.items():
        name, since = _split(key)
        if minor >= since:
            known[name] = sub
    out = {}
    for k, v in value.items():
        if k in known:
            out[k] = _check(v, known[k], minor, _join(path, k), unknown)
        else:
            unknown.append(_join(path, k))
    return out


def _join(path, key):
    return "%s.%s" % (path, key) if path else key
