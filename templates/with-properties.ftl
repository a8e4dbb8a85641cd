<#--
  cohort-receiver template: Amplitude's default payload WITH the user properties chosen for the sync.
  Tested by rendering with Apache FreeMarker.

  Correct for any input, unlike the example on Amplitude's page:
  - every string goes through ?json_string, so quotes, backslashes, newlines, control characters
    and unicode in names, ids and values stay valid JSON;
  - numbers and booleans go through ?c, so 1234 is never printed as "1,234" (locale grouping) and
    a boolean never trips FreeMarker's boolean_format;
  - a null or missing property value becomes null (checked with ??), lists and nested objects are
    written recursively, and a user without properties gets no "user_properties" key;
  - <#sep> puts commas only between items, so zero users render "users": [].
-->
<#-- A scalar as text: numbers and booleans in computer format (?c), strings as they are. -->
<#function text value="">
  <#if value?is_number || value?is_boolean><#return value?c></#if>
  <#return value>
</#function>
<#-- Any value as JSON: boolean, number, string, list or object; callers check null with ?? first. -->
<#macro json value>
<#if value?is_boolean || value?is_number>${value?c}<#elseif value?is_string>"${value?json_string}"<#elseif value?is_sequence>[<#list value as item><#if item??><@json item/><#else>null</#if><#sep>,</#list>]<#elseif value?is_hash_ex>{<#list value?keys as key>"${key?json_string}":<#if value[key]??><@json value[key]/><#else>null</#if><#sep>,</#list>}<#else>null</#if></#macro>
{
  "cohort_name": "${text(input.cohort_name)?json_string}",
  "cohort_id": "${text(input.cohort_id)?json_string}",
  "in_cohort": ${input.in_cohort?c},
  "computed_time": "${text(input.computed_time)?json_string}",
  "message_id": "${text(input.message_id)?json_string}",
  "users": [
<#list input.users as user>
    {"user_id": "${text(user.user_id)?json_string}"<#if user.user_properties??>, "user_properties": <@json user.user_properties/></#if>}<#sep>,</#sep>
</#list>
  ]
}
