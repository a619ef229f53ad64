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
A redelivered first event resumes its load's first partition: its retries outlast the claim a killed or
running first slice holds (values.yaml, broker.fullLoadRetry).
*/}}
{{- define "hermes.fullLoadDelivery" -}}
delivery:
  retry: {{ .Values.broker.fullLoadRetry }}
  backoffPolicy: exponential
  backoffDelay: {{ .Values.broker.fullLoadBackoffDelay }}
  {{- include "hermes.sliceTimeout" . | nindent 2 }}
  {{- if .Values.broker.deadLetter }}
  deadLetterSink:
    ref:
      apiVersion: eventing.knative.dev/v1
      kind: Broker
      name: {{ include "hermes.fullname" . }}-dead-letter
  {{- end }}
{{- end }}


{{/*
The dispatcher's per-attempt timeout for the full-load Triggers: the service's timeoutSeconds, so Knative
neither abandons a slice the queue-proxy would still let run (and retries it into a 409) nor waits past it.
*/}}
{{- define "hermes.sliceTimeout" -}}
timeout: PT{{ int .Values.functions.fullLoad.timeoutSeconds }}S
{{- end -}}

{{/*
The hand-over Trigger's delivery: retries long enough to outlive a slice that is still running (each such
delivery gets 409), the dead-letter Broker (whose /undelivered route ends the load), the slice's timeout.
*/}}
{{- define "hermes.sliceDelivery" -}}
delivery:
  retry: {{ .Values.broker.sliceRetry }}
  backoffPolicy: exponential
  backoffDelay: {{ .Values.broker.sliceBackoffDelay }}
  {{- include "hermes.sliceTimeout" . | nindent 2 }}
  {{- if .Values.broker.deadLetter }}
  deadLetterSink:
    ref:
      apiVersion: eventing.knative.dev/v1
      kind: Broker
      name: {{ include "hermes.fullname" . }}-dead-letter
  {{- end }}
{{- end -}}

{{/*
Render-time checks of the full load's slices (docs/deploy.md § Long loads). After its slice time a request
still: finishes the page it reads, or stops mid-page after min(30, slice/10) s (hermes/load/slices.py,
SliceClock); drains its writes, refreshes, verifies and swaps (60 s allowed); and either waits up to
HERMES_GREEN_TIMEOUT_S for green (the last slice) or hands over to K_SINK (at worst 5 tries of 30 s and
their backoffs, about 160 s: hermes/load/handover.py). All of it must end before Knative's timeoutSeconds.
*/}}
{{- define "hermes.checkLoad" -}}
{{- $slice := int .Values.load.sliceSeconds -}}
{{- $grace := min 30 (div (add $slice 9) 10) -}}
{{- $ending := max (int .Values.load.greenTimeoutSeconds) 160 -}}
{{- $need := add $slice $grace 60 $ending -}}
{{- $timeout := int .Values.functions.fullLoad.timeoutSeconds -}}
{{- if gt $need $timeout -}}
{{- fail (printf "load.sliceSeconds %d leaves too little margin below functions.fullLoad.timeoutSeconds %d: a slice may run %d s (%d + %d s to finish its page + 60 s to flush, verify and swap + %d s for green or the hand-over); lower load.sliceSeconds (or load.greenTimeoutSeconds when above 160), or raise timeoutSeconds (docs/deploy.md § Long loads)" $slice $timeout $need $slice $grace $ending) -}}
{{- end -}}
{{- if lt (int .Values.functions.fullLoad.scaling.maxScale) (int .Values.load.partitions) -}}
{{- fail (printf "functions.fullLoad.scaling.maxScale %d is below load.partitions %d: with containerConcurrency 1 every partition's slice needs an instance of its own" (int .Values.functions.fullLoad.scaling.maxScale) (int .Values.load.partitions)) -}}
{{- end -}}
{{- end -}}
