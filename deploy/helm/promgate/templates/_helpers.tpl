{{/* Names, labels, the rendered promgate config and the chart's own checks. */}}
{{- define "promgate.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "promgate.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "promgate.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "promgate.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "promgate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "promgate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "promgate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "promgate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "promgate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "promgate.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "promgate.usersSecret" -}}
{{- default (printf "%s-users" (include "promgate.fullname" .)) .Values.users.existingSecret -}}
{{- end -}}
{{- define "promgate.oidcSecret" -}}
{{- default (printf "%s-oidc" (include "promgate.fullname" .)) .Values.oidc.existingSecret -}}
{{- end -}}
{{- define "promgate.upstreamSecret" -}}
{{- default (printf "%s-upstream" (include "promgate.fullname" .)) .Values.upstreamCredentials.existingSecret -}}
{{- end -}}
{{- define "promgate.redisSecret" -}}
{{- default (printf "%s-redis" (include "promgate.fullname" .)) .Values.redis.existingSecret -}}
{{- end -}}

{{- define "promgate.hasUsers" -}}{{ if or .Values.users.content .Values.users.existingSecret }}true{{ end }}{{- end -}}
{{- define "promgate.hasOidc" -}}{{ if (.Values.config.auth | default dict).oidc }}true{{ end }}{{- end -}}
{{- define "promgate.hasUpstreamCreds" -}}{{ if or .Values.upstreamCredentials.data .Values.upstreamCredentials.existingSecret }}true{{ end }}{{- end -}}
{{- define "promgate.hasRedis" -}}{{ if or .Values.redis.url .Values.redis.existingSecret }}true{{ end }}{{- end -}}

{{/* The promgate config file: the user's config plus what the chart owns (ports, drain time, secret file paths). */}}
{{- define "promgate.config" -}}
{{- $cfg := deepCopy (.Values.config | default dict) -}}
{{- $server := get $cfg "server" | default dict -}}
{{- if hasKey $server "shutdownTimeout" -}}
{{- fail "set shutdownTimeoutSeconds instead of config.server.shutdownTimeout: the chart keeps terminationGracePeriodSeconds above it" -}}
{{- end -}}
{{- $_ := set $server "host" "0.0.0.0" -}}
{{- $_ := set $server "port" (int .Values.port) -}}
{{- $_ := set $server "metricsPort" (int .Values.metricsPort) -}}
{{- $_ := set $server "logLevel" .Values.logLevel -}}
{{- $_ := set $server "shutdownTimeout" (printf "%ds" (int .Values.shutdownTimeoutSeconds)) -}}
{{- $_ := set $cfg "server" $server -}}
{{- $auth := get $cfg "auth" | default dict -}}
{{- if include "promgate.hasUsers" . -}}
{{- $basic := get $auth "basic" | default dict -}}
{{- $_ := set $basic "usersFile" "/etc/promgate/users/users.yaml" -}}
{{- $_ := set $auth "basic" $basic -}}
{{- end -}}
{{- if include "promgate.hasOidc" . -}}
{{- $oidc := get $auth "oidc" -}}
{{- if not (hasKey $oidc "clientSecret") -}}{{- $_ := set $oidc "clientSecretFile" "/etc/promgate/oidc/client-secret" -}}{{- end -}}
{{- $cookie := get $oidc "cookie" | default dict -}}
{{- if not (hasKey $cookie "secret") -}}{{- $_ := set $cookie "secretFile" "/etc/promgate/oidc/cookie-secret" -}}{{- end -}}
{{- $_ := set $oidc "cookie" $cookie -}}
{{- end -}}
{{- $_ := set $cfg "auth" $auth -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/* Checks that fail the render with a message instead of producing a gateway that cannot work. */}}
{{- define "promgate.validate" -}}
{{- $auth := (.Values.config.auth | default dict) -}}
{{- if not (or (include "promgate.hasUsers" .) $auth.basic $auth.jwt $auth.oidc $auth.anonymous) -}}
{{- fail "no authentication: set users.content or users.existingSecret (basic auth), or config.auth.jwt, config.auth.oidc or config.auth.anonymous" -}}
{{- end -}}
{{- $maxReplicas := ternary (int .Values.autoscaling.maxReplicas) (int .Values.replicaCount) .Values.autoscaling.enabled -}}
{{- $redisSessions := and $auth.oidc (eq (toString ($auth.oidc.sessionStore | default "cookie")) "redis") -}}
{{- if and $redisSessions (not (include "promgate.hasRedis" .)) (not $auth.oidc.redisUrl) -}}
{{- if gt $maxReplicas 1 -}}
{{- fail (printf "%d replicas keep sessions in Redis (config.auth.oidc.sessionStore: redis), so they need one shared Redis: set redis.url or redis.existingSecret" $maxReplicas) -}}
{{- else -}}
{{- fail "config.auth.oidc.sessionStore: redis needs a Redis: set redis.url or redis.existingSecret" -}}
{{- end -}}
{{- end -}}
{{- if and (include "promgate.hasOidc" .) (not (or .Values.oidc.existingSecret (and .Values.oidc.cookieSecret (or .Values.oidc.clientSecret $auth.oidc.clientSecret)))) -}}
{{- fail "config.auth.oidc needs oidc.cookieSecret and oidc.clientSecret (or oidc.existingSecret with keys client-secret and cookie-secret); every replica must share the cookie secret" -}}
{{- end -}}
{{- if and .Values.terminationGracePeriodSeconds (le (int .Values.terminationGracePeriodSeconds) (int .Values.shutdownTimeoutSeconds)) -}}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be larger than shutdownTimeoutSeconds (%d), or Kubernetes kills promgate while it drains" (int .Values.terminationGracePeriodSeconds) (int .Values.shutdownTimeoutSeconds)) -}}
{{- end -}}
{{- end -}}
