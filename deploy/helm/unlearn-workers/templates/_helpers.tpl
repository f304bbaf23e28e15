{{- define "unlearn.name" -}}{{ .Release.Name }}-unlearn{{- end -}}

{{- define "unlearn.labels" -}}
app.kubernetes.io/name: unlearn-worker
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{/* The `unlearn` CLI, as the images' entry point runs it. */}}
{{- define "unlearn.command" -}}
command: ["node", "--import", "tsx", "cli/main.ts"]
{{- end -}}

{{/*
Service addresses and secrets as the workers read them (infra/temporal.ts, db/client.ts, storage/object-store.ts).
Secret values come from Kubernetes Secrets only.
*/}}
{{- define "unlearn.env" -}}
- name: TEMPORAL_ADDRESS
  value: {{ required "temporal.address is required (HOST:PORT)" .Values.temporal.address | quote }}
- name: TEMPORAL_NAMESPACE
  value: {{ .Values.temporal.namespace | quote }}
{{- if .Values.temporal.tls }}
- name: TEMPORAL_TLS
  value: "true"
{{- end }}
{{- if .Values.temporal.apiKeySecret.name }}
- name: TEMPORAL_API_KEY
  valueFrom:
    secretKeyRef: { name: {{ .Values.temporal.apiKeySecret.name | quote }}, key: {{ .Values.temporal.apiKeySecret.key | quote }} }
{{- end }}
{{- if .Values.temporal.mtlsSecret.name }}
- name: TEMPORAL_TLS_CERT
  value: /etc/unlearn/temporal-tls/tls.crt
- name: TEMPORAL_TLS_KEY
  value: /etc/unlearn/temporal-tls/tls.key
{{- end }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef: { name: {{ required "database.secretName is required" .Values.database.secretName | quote }}, key: {{ .Values.database.urlKey | quote }} }
- name: S3_ENDPOINT
  value: {{ required "s3.endpoint is required" .Values.s3.endpoint | quote }}
- name: S3_REGION
  value: {{ .Values.s3.region | quote }}
- name: S3_BUCKET
  value: {{ required "s3.bucket is required" .Values.s3.bucket | quote }}
- name: S3_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef: { name: {{ required "s3.secretName is required" .Values.s3.secretName | quote }}, key: {{ .Values.s3.accessKeyIdKey | quote }} }
- name: S3_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef: { name: {{ .Values.s3.secretName | quote }}, key: {{ .Values.s3.secretAccessKeyKey | quote }} }
{{- if .Values.queuePrefix }}
- name: UNLEARN_QUEUE_PREFIX
  value: {{ .Values.queuePrefix | quote }}
{{- end }}
# The host in stage rows: node and pod (hostnames of pods repeat across releases; node names show the machine).
- name: NODE_NAME
  valueFrom:
    fieldRef: { fieldPath: spec.nodeName }
- name: POD_NAME
  valueFrom:
    fieldRef: { fieldPath: metadata.name }
- name: UNLEARN_WORKER_HOST
  value: "$(NODE_NAME)/$(POD_NAME)"
{{- end -}}

{{- define "unlearn.volumeMounts" -}}
{{- if .Values.temporal.mtlsSecret.name }}
volumeMounts:
  - { name: temporal-tls, mountPath: /etc/unlearn/temporal-tls, readOnly: true }
{{- end }}
{{- end -}}

{{- define "unlearn.volumes" -}}
{{- if .Values.temporal.mtlsSecret.name }}
volumes:
  - name: temporal-tls
    secret: { secretName: {{ .Values.temporal.mtlsSecret.name | quote }} }
{{- end }}
{{- end -}}

{{/* One worker Deployment; argument: dict root, kind (gpu|cpu|io), queue (gpu|io), w (its values), image, backend, resources */}}
{{- define "unlearn.worker" -}}
{{- $root := .root -}}
{{- $kind := .kind -}}
{{- $queue := .queue -}}
{{- $w := .w -}}
{{- $image := .image -}}
{{- $backend := .backend -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "unlearn.name" $root }}-{{ $kind }}
  labels:
    {{- include "unlearn.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ $kind }}-worker
spec:
  {{- if not (and (eq $kind "gpu") $w.autoscaling.enabled) }}
  replicas: {{ $w.replicas }}
  {{- end }}
  selector:
    matchLabels:
      app.kubernetes.io/instance: {{ $root.Release.Name }}
      app.kubernetes.io/component: {{ $kind }}-worker
  # A stage interrupted by a rollout is retried elsewhere and resumes from its checkpoint; never take more
  # than one extra worker at a time.
  strategy:
    type: RollingUpdate
    rollingUpdate: { maxSurge: 1, maxUnavailable: {{ if eq $kind "io" }}0{{ else }}1{{ end }} }
  template:
    metadata:
      labels:
        {{- include "unlearn.labels" $root | nindent 8 }}
        app.kubernetes.io/component: {{ $kind }}-worker
    spec:
      {{- with $root.Values.imagePullSecrets }}
      imagePullSecrets: {{ toYaml . | nindent 8 }}
      {{- end }}
      terminationGracePeriodSeconds: {{ $w.terminationGracePeriodSeconds }}
      securityContext: {{ toYaml $root.Values.podSecurityContext | nindent 8 }}
      {{- with $w.nodeSelector }}
      nodeSelector: {{ toYaml . | nindent 8 }}
      {{- end }}
      {{- with $w.tolerations }}
      tolerations: {{ toYaml . | nindent 8 }}
      {{- end }}
      {{- with $w.affinity }}
      affinity: {{ toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: worker
          image: "{{ $image.repository }}:{{ $image.tag }}"
          imagePullPolicy: {{ $image.pullPolicy }}
          {{- include "unlearn.command" $root | nindent 10 }}
          args: ["worker", "--queue", {{ $queue | quote }}, "--concurrency", {{ $w.concurrency | default 1 | toString | quote }}]
          env:
            {{- include "unlearn.env" $root | nindent 12 }}
            {{- if $backend }}
            - name: UNLEARN_BACKEND
              value: {{ $backend | quote }}
            {{- end }}
          resources:
            {{- toYaml .resources | nindent 12 }}
          securityContext: {{ toYaml $root.Values.securityContext | nindent 12 }}
          {{- include "unlearn.volumeMounts" $root | nindent 10 }}
      {{- include "unlearn.volumes" $root | nindent 6 }}
{{- end -}}
