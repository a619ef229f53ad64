{{/* Prefix of every object name: "hermes" unless overridden (the contract's names). */}}
{{- define "hermes.fullname" -}}
{{- default "hermes" .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every object. */}}
{{- define "hermes.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: hermes
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: hermes
{{- end -}}

{{/* Component name of a function key: search, delta-load, full-load. */}}
{{- define "hermes.component" -}}
{{- . | kebabcase -}}
{{- end -}}

{{/* Pinned image reference: repository@digest or repository:tag. */}}
{{- define "hermes.image" -}}
{{- if .digest -}}
{{ .repository }}@{{ .digest }}
{{- else -}}
{{ .repository }}:{{ .tag }}
{{- end -}}
{{- end -}}

{{/* Address of the PingSource's and Triggers' Broker. */}}
{{- define "hermes.brokerRef" -}}
ref:
  apiVersion: eventing.knative.dev/v1
  kind: Broker
  name: {{ include "hermes.fullname" . }}
{{- end -}}
