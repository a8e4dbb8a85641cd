<#--
  cohort-receiver template: one entry per user with a boolean cohort flag, for destinations that
  want [{"user_id": …, "amplitude_<cohort name>_<cohort id>": true|false}, …].
  Tested by rendering with Apache FreeMarker.

  This is Amplitude's third example, made valid FreeMarker and valid JSON (every string through
  ?json_string, the flag through ?c). Prefer with-properties.ftl or user-ids-only.ftl when you can:
  this shape carries no message_id and no computed_time, so a receiver cannot tell a retry from a
  new message with the same bytes, nor restore the order of messages that arrive out of order.
-->
<#-- A scalar as text: numbers and booleans in computer format (?c), strings as they are. -->
<#function text value="">
  <#if value?is_number || value?is_boolean><#return value?c></#if>
  <#return value>
</#function>
<#assign flag = "amplitude_" + text(input.cohort_name) + "_" + text(input.cohort_id)>
[
<#list input.users as user>
  {"user_id": "${text(user.user_id)?json_string}", "${flag?json_string}": ${input.in_cohort?c}}<#sep>,</#sep>
</#list>
]
