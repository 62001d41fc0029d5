{{/* Names, labels and the values every template shares. */}}

{{- define "warden.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name. Pods are <fullname>-<ordinal> and their DNS names
<fullname>-<ordinal>.<fullname>-headless.<namespace>.svc.<domain>: kept short enough for a
DNS label (63).
*/}}
{{- define "warden.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "warden.headless" -}}
{{- printf "%s-headless" (include "warden.fullname" .) }}
{{- end }}

{{/* The domain under which each pod has its stable name: <pod>.<this>. */}}
{{- define "warden.peerDomain" -}}
{{- printf "%s.%s.svc.%s" (include "warden.headless" .) .Release.Namespace .Values.clusterDomain }}
{{- end }}

{{- define "warden.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "warden.selectorLabels" -}}
app.kubernetes.io/name: {{ include "warden.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "warden.labels" -}}
helm.sh/chart: {{ include "warden.chart" . }}
{{ include "warden.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: warden
{{- end }}

{{- define "warden.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "warden.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "warden.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "warden.masterKeySecret" -}}
{{- default (printf "%s-master-key" (include "warden.fullname" .)) .Values.masterKey.existingSecret }}
{{- end }}

{{- define "warden.bootstrapTokenSecret" -}}
{{- default (printf "%s-bootstrap-token" (include "warden.fullname" .)) .Values.bootstrapToken.existingSecret }}
{{- end }}

{{- define "warden.tlsSecret" -}}
{{- default (printf "%s-tls" (include "warden.fullname" .)) .Values.tls.existingSecret }}
{{- end }}

{{/* The Secret cert-manager writes node ID's certificate to. */}}
{{- define "warden.nodeCertSecret" -}}
{{- printf "%s-node-%d" (include "warden.fullname" .root) (int .id) }}
{{- end }}

{{/* The issuer of the node certificates. */}}
{{- define "warden.issuerRef" -}}
{{- $issuer := .Values.tls.certManager.issuerRef }}
{{- if $issuer.name }}
name: {{ $issuer.name }}
kind: {{ $issuer.kind }}
group: {{ $issuer.group }}
{{- else }}
name: {{ include "warden.fullname" . }}-ca
kind: Issuer
group: cert-manager.io
{{- end }}
{{- end }}

{{/*
The DNS names clients may reach node ID by: the pod's stable names and the client
Service's. Every node certificate carries them (besides node-ID.warden, the node's
identity); README.md shows them for `warden cert node`.
*/}}
{{- define "warden.clientNames" -}}
{{- $root := .root }}
{{- $fullname := include "warden.fullname" $root }}
{{- $pod := printf "%s-%d" $fullname (sub (int .id) 1) }}
{{- $headless := include "warden.headless" $root }}
{{- $ns := $root.Release.Namespace }}
{{- $domain := $root.Values.clusterDomain }}
- {{ printf "%s.%s.%s.svc.%s" $pod $headless $ns $domain }}
- {{ printf "%s.%s.%s.svc" $pod $headless $ns }}
- {{ printf "%s.%s.%s" $pod $headless $ns }}
- {{ printf "%s.%s.svc.%s" $fullname $ns $domain }}
- {{ printf "%s.%s.svc" $fullname $ns }}
- {{ printf "%s.%s" $fullname $ns }}
- {{ $fullname }}
- localhost
{{- end }}

{{/*
One WARDEN_* variable: KEY (dotted) and VALUE, the value written as TOML, which the node
reads as such (strings quoted, whole numbers without a fraction, lists as arrays).
*/}}
{{- define "warden.envValue" -}}
{{- $value := . }}
{{- if kindIs "string" $value }}
{{- $value | toJson }}
{{- else if kindIs "bool" $value }}
{{- ternary "true" "false" $value }}
{{- else if or (kindIs "float64" $value) (kindIs "int" $value) (kindIs "int64" $value) }}
{{- $value | int64 | toString }}
{{- else if kindIs "slice" $value }}
{{- $value | toJson }}
{{- else }}
{{- fail (printf "config: cannot pass %v (%s) to a node" $value (kindOf $value)) }}
{{- end }}
{{- end }}

{{/* Every container's: no privileges, a read-only root filesystem. */}}
{{- define "warden.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop:
    - ALL
{{- end }}
