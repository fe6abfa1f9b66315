{{/* Names and labels shared by every object of the chart. */}}
{{- define "studio.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "studio.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "studio.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "studio.secretName" -}}
{{- default (printf "%s-secrets" (include "studio.fullname" .)) .Values.existingSecret -}}
{{- end -}}

{{/* The environment both binaries read (API.md "Running"). */}}
{{- define "studio.env" -}}
- name: DATA_DIR
  value: /var/lib/studio
- name: LOG_FORMAT
  value: {{ .Values.config.logFormat | quote }}
- name: RUST_LOG
  value: {{ .Values.config.rustLog | quote }}
- name: PUBLIC_URL
  value: {{ .Values.config.publicUrl | quote }}
- name: WEB_ORIGINS
  value: {{ .Values.config.webOrigins | quote }}
- name: LIVEKIT_URL
  value: {{ .Values.config.livekitUrl | quote }}
- name: S3_ENDPOINT
  value: {{ .Values.config.s3Endpoint | quote }}
- name: S3_BUCKET
  value: {{ .Values.config.s3Bucket | quote }}
- name: S3_REGION
  value: {{ .Values.config.s3Region | quote }}
{{- range $name, $key := dict "DATABASE_URL" "databaseUrl" "LIVEKIT_API_KEY" "livekitApiKey" "LIVEKIT_API_SECRET" "livekitApiSecret" "S3_ACCESS_KEY" "s3AccessKey" "S3_SECRET_KEY" "s3SecretKey" "SECRETS_KEY" "secretsKey" }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ include "studio.secretName" $ }}
      key: {{ $key }}
{{- end }}
{{- end -}}

{{- define "studio.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end -}}
