{{- define "aurora-upgrade-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "aurora-upgrade-operator.fullname" -}}
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

{{- define "aurora-upgrade-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "aurora-upgrade-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "aurora-upgrade-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "aurora-upgrade-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "aurora-upgrade-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "aurora-upgrade-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "aurora-upgrade-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{- define "aurora-upgrade-operator.metricsLabels" -}}
{{ include "aurora-upgrade-operator.selectorLabels" . }}
app.kubernetes.io/component: metrics
{{- end }}

{{- /*
How much a counter grew within a window, summed by a label: increase() for series older than the
window, and the whole value of younger ones (a new operator pod's first error has no earlier
sample for increase() to compare with). Arguments: series (a selector), by, window.
*/}}
{{- define "aurora-upgrade-operator.counted" -}}
sum by ({{ .by }}) (
  ({{ .series }} unless {{ .series }} offset {{ .window }}) * 1
  or
  increase({{ .series }}[{{ .window }}])
)
{{- end }}

{{- /*
The ConfigMap holding the databases' CA bundle: the user's (validation.caBundle.configMap), the
chart's own when validation.caBundle.pem is given, or "" when there is none.
*/}}
{{- define "aurora-upgrade-operator.caBundleConfigMap" -}}
{{- if .Values.validation.caBundle.configMap -}}
{{ .Values.validation.caBundle.configMap }}
{{- else if .Values.validation.caBundle.pem -}}
{{ include "aurora-upgrade-operator.fullname" . }}-db-ca-bundle
{{- end -}}
{{- end }}
