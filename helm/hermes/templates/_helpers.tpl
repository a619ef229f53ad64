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

{{/*
The full-load Triggers' delivery. Knative uses a Trigger's delivery spec whole, instead of the Broker's
(knative/eventing pkg/reconciler/broker/trigger/trigger.go, subscribeToBrokerChannel): without its own
deadLetterSink a full load that fails past its retries would vanish, so it names the dead-letter Broker.
A full load that fails before its swap changes nothing: retry it, but not for long.
*/}}
{{- define "hermes.fullLoadDelivery" -}}
delivery:
  retry: {{ .Values.broker.fullLoadRetry }}
  backoffPolicy: exponential
  backoffDelay: {{ .Values.broker.fullLoadBackoffDelay }}
  {{- if .Values.broker.deadLetter }}
  deadLetterSink:
    ref:
      apiVersion: eventing.knative.dev/v1
      kind: Broker
      name: {{ include "hermes.fullname" . }}-dead-letter
  {{- end }}
{{- end }}
