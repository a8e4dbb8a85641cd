<#--
  cohort-receiver template: Amplitude's default payload with user IDs only (no user properties).
  Tested by rendering with Apache FreeMarker.

  Unlike the example on Amplitude's page, every string goes through ?json_string, so a cohort name
  (or any id) containing a quote, a backslash, a newline or a control character stays valid JSON;
  numeric values are printed with ?c, never in a locale format such as "1,234".
-->
<#-- A scalar as text: numbers and booleans in computer format (?c), strings as they are. -->
<#function text value="">
  <#if value?is_number || value?is_boolean><#return value?c></#if>
  <#return value>
</#function>
{
  "cohort_name": "${text(input.cohort_name)?json_string}",
  "cohort_id": "${text(input.cohort_id)?json_string}",
  "in_cohort": ${input.in_cohort?c},
  "computed_time": "${text(input.computed_time)?json_string}",
  "message_id": "${text(input.message_id)?json_string}",
  "users": [
<#list input.users as user>
    {"user_id": "${text(user.user_id)?json_string}"}<#sep>,</#sep>
</#list>
  ]
}
