{{/* Names, labels and the checks every rendering makes. */}}

{{- define "drec.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "drec.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "drec.selectorLabels" -}}
app.kubernetes.io/name: {{ include "drec.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "drec.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "drec.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Prometheus' scrape annotations: drec serves /metrics on its HTTPS port, no credentials. */}}
{{- define "drec.metricsAnnotations" -}}
{{- if .Values.metrics.annotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .Values.service.port | quote }}
prometheus.io/scheme: https
prometheus.io/path: /metrics
{{- end }}
{{- end }}

{{- define "drec.authSecretName" -}}
{{- default (printf "%s-auth" (include "drec.fullname" .)) .Values.auth.existingSecret }}
{{- end }}

{{/* Where the token Secret is mounted; DREC_AUTH_TOKENS_FILE is its tokensKey file. */}}
{{- define "drec.authMountPath" -}}
/etc/drec/auth
{{- end }}

{{- define "drec.tlsSecretName" -}}
{{- default (printf "%s-tls" (include "drec.fullname" .)) .Values.tls.existingSecret }}
{{- end }}

{{/* The store's Secret (PostgreSQL or MongoDB URI): given, or the chart's. */}}
{{- define "drec.storeSecretName" -}}
{{- $store := get .Values.store .Values.store.backend }}
{{- default (printf "%s-store" (include "drec.fullname" .)) $store.existingSecret }}
{{- end }}

{{- define "drec.hasTls" -}}
{{- if or .Values.tls.existingSecret .Values.tls.generate }}true{{ end }}
{{- end }}

{{- define "drec.hasTokens" -}}
{{- if or .Values.auth.existingSecret .Values.auth.tokens (not .Values.auth.allowAnonymous) }}true{{ end }}
{{- end }}

{{/* The Service's cluster DNS name and the URL a registry in the cluster notifies. */}}
{{- define "drec.serviceHost" -}}
{{- printf "%s.%s.svc" (include "drec.fullname" .) .Release.Namespace }}
{{- end }}

{{- define "drec.notificationsUrl" -}}
{{- default (printf "https://%s:%v/events" (include "drec.serviceHost" .) .Values.service.port) .Values.notifications.url }}
{{- end }}

{{/* Refuses values drec cannot run with, before anything is applied. */}}
{{- define "drec.validate" -}}
{{- $backend := .Values.store.backend }}
{{- if not (has $backend (list "sqlite" "postgresql" "mongodb")) }}
{{- fail (printf "store.backend must be sqlite, postgresql or mongodb, not %q" $backend) }}
{{- end }}
{{- if and (ne $backend "postgresql") (gt (int .Values.replicaCount) 1) }}
{{- fail (printf "replicaCount %d with store.backend %s: only one drec may write a %s store (SQLite: one file on one volume; MongoDB: drec's writer lease). Use store.backend postgresql for several replicas." (int .Values.replicaCount) $backend $backend) }}
{{- end }}
{{- if lt (int .Values.replicaCount) 1 }}
{{- fail "replicaCount must be at least 1" }}
{{- end }}
{{- if ne $backend "sqlite" }}
{{- $store := get .Values.store $backend }}
{{- if not (or $store.existingSecret $store.uri) }}
{{- fail (printf "store.backend %s needs store.%s.existingSecret or store.%s.uri" $backend $backend $backend) }}
{{- end }}
{{- end }}
{{- if and .Values.auth.allowAnonymous (or .Values.auth.tokens .Values.auth.existingSecret) }}
{{- fail "auth.allowAnonymous with tokens: choose one" }}
{{- end }}
{{- end }}
