"""Test CRDs for the test API server's own tests (shaped like docs/design.md#nodepowerprofile)."""

GROUP = "kapitest.joulie.io"

# Cluster-scoped, status subresource, printer columns, selectableFields, enum/minimum/required.
PROFILE_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: testprofiles.kapitest.joulie.io
spec:
  group: kapitest.joulie.io
  scope: Cluster
  names:
    kind: TestProfile
    listKind: TestProfileList
    plural: testprofiles
    singular: testprofile
    shortNames: [tpx]
    categories: [kapitest]
  versions:
    - name: v1alpha1
      served: true
      storage: true
      subresources:
        status: {}
      selectableFields:
        - jsonPath: .spec.nodeName
      additionalPrinterColumns:
        - {name: Node, type: string, jsonPath: .spec.nodeName}
        - {name: Profile, type: string, jsonPath: .spec.profile}
        - {name: CPU-Watts, type: number, jsonPath: .spec.cpu.packagePowerCapWatts}
        - name: Applied
          type: string
          jsonPath: .status.conditions[?(@.type=="Applied")].status
        - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
      schema:
        openAPIV3Schema:
          type: object
          required: [spec]
          properties:
            spec:
              type: object
              required: [nodeName, profile]
              properties:
                nodeName: {type: string, minLength: 1}
                profile: {type: string, enum: [performance, eco]}
                cpu:
                  type: object
                  properties:
                    packagePowerCapWatts: {type: number, minimum: 1}
                extra:
                  type: object
                  x-kubernetes-preserve-unknown-fields: true
            status:
              type: object
              properties:
                observedGeneration: {type: integer, minimum: 0}
                backend: {type: string, enum: [none, rapl, dvfs]}
                conditions:
                  type: array
                  items:
                    type: object
                    required: [type, status]
                    properties:
                      type: {type: string}
                      status: {type: string, enum: ["True", "False", Unknown]}
"""

# Namespaced, no status subresource, no printer columns.
NOTE_CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: notes.kapitest.joulie.io
spec:
  group: kapitest.joulie.io
  scope: Namespaced
  names: {kind: Note, plural: notes, singular: note}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                text: {type: string}
                count: {type: integer, maximum: 10}
            status:
              type: object
              x-kubernetes-preserve-unknown-fields: true
"""

PROFILES = "/apis/kapitest.joulie.io/v1alpha1/testprofiles"


def profile(name, node, mode="eco", watts=None, labels=None):
    """A TestProfile object (dict)."""
    spec = {"nodeName": node, "profile": mode}
    if watts is not None:
        spec["cpu"] = {"packagePowerCapWatts": watts}
    meta = {"name": name}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "kapitest.joulie.io/v1alpha1", "kind": "TestProfile", "metadata": meta,
            "spec": spec}


def install(server):
    """Create both CRDs through the API (YAML bodies, no kubectl needed)."""
    for text in (PROFILE_CRD, NOTE_CRD):
        r = server.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", text,
                           content_type="application/yaml")
        assert r.code == 201, r
