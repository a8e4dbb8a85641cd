// Renders FreeMarker templates with the real Apache FreeMarker engine, for the template tests.
//
// Usage (single-file source mode, no build step):
//   java -cp /usr/share/java/freemarker.jar test/templates/Render.java JOBS.json RESULTS.json
//
// JOBS.json is a JSON array of jobs, rendered in one JVM because Java starts slowly:
//   [{"template": "templates/with-properties.ftl", "input": {...}, "version": "2.3.31", "locale": "de_DE"}]
// `input` becomes the root variable `input`, as in Amplitude. JSON objects become LinkedHashMap,
// arrays ArrayList, numbers Integer/Long/BigInteger/Double (what a typical JSON library such as
// Jackson produces), and null stays null. `version` picks Configuration's incompatible_improvements
// (it also picks the object wrapper's behaviour); `locale` shows locale-dependent formatting.
//
// RESULTS.json is a JSON array, one entry per job, in order:
//   {"ok": true, "output": "..."} or {"ok": false, "error": "..."}
import freemarker.template.Configuration;
import freemarker.template.Template;
import freemarker.template.TemplateExceptionHandler;
import freemarker.template.Version;
import java.io.StringReader;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

public class Render {
  public static void main(String[] args) throws Exception {
    String jobsText = Files.readString(Path.of(args[0]), StandardCharsets.UTF_8);
    List<?> jobs = (List<?>) new JsonParser(jobsText).parseDocument();
    Map<String, Template> templates = new HashMap<>();
    StringBuilder results = new StringBuilder("[");
    for (int index = 0; index < jobs.size(); index++) {
      Map<?, ?> job = (Map<?, ?>) jobs.get(index);
      if (index > 0) results.append(",\n");
      try {
        Template template = templateFor(job, templates);
        Map<String, Object> model = new HashMap<>();
        model.put("input", job.get("input"));
        StringWriter output = new StringWriter();
        template.process(model, output);
        results.append("{\"ok\":true,\"output\":").append(quote(output.toString())).append('}');
      } catch (Exception error) {
        String message = error.getClass().getSimpleName() + ": " + error.getMessage();
        results.append("{\"ok\":false,\"error\":").append(quote(message)).append('}');
      }
    }
    results.append("]\n");
    Files.writeString(Path.of(args[1]), results, StandardCharsets.UTF_8);
  }

  /** One parsed Template per (file, version, locale): parsing is the slow part. */
  private static Template templateFor(Map<?, ?> job, Map<String, Template> cache) throws Exception {
    String file = (String) job.get("template");
    String version = job.containsKey("version") ? (String) job.get("version") : "2.3.31";
    String locale = job.containsKey("locale") ? (String) job.get("locale") : "en_US";
    String key = file + "|" + version + "|" + locale;
    Template cached = cache.get(key);
    if (cached != null) return cached;
    Configuration configuration = new Configuration(new Version(version));
    configuration.setLocale(Locale.forLanguageTag(locale.replace('_', '-')));
    configuration.setDefaultEncoding("UTF-8");
    configuration.setTemplateExceptionHandler(TemplateExceptionHandler.RETHROW_HANDLER);
    configuration.setLogTemplateExceptions(false);
    String text = Files.readString(Path.of(file), StandardCharsets.UTF_8);
    Template template = new Template(file, new StringReader(text), configuration);
    cache.put(key, template);
    return template;
  }

  /** A JSON string literal; every character below U+0020 is escaped, as JSON requires. */
  static String quote(String text) {
    StringBuilder out = new StringBuilder(text.length() + 2).append('"');
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (c == '"' || c == '\\') out.append('\\').append(c);
      else if (c < 0x20) out.append(String.format("\\u%04x", (int) c));
      else out.append(c);
    }
    return out.append('"').toString();
  }

  /** A small, strict JSON (RFC 8259) parser: the tests need no library on the classpath but FreeMarker. */
  static final class JsonParser {
    private final String text;
    private int at = 0;

    JsonParser(String text) {
      this.text = text;
    }

    Object parseDocument() {
      Object value = parseValue();
      skipWhitespace();
      if (at != text.length()) throw error("unexpected text after the JSON value");
      return value;
    }

    private Object parseValue() {
      skipWhitespace();
      if (at >= text.length()) throw error("unexpected end of input");
      char c = text.charAt(at);
      switch (c) {
        case '{':
          return parseObject();
        case '[':
          return parseArray();
        case '"':
          return parseString();
        case 't':
          return literal("true", Boolean.TRUE);
        case 'f':
          return literal("false", Boolean.FALSE);
        case 'n':
          return literal("null", null);
        default:
          if (c == '-' || (c >= '0' && c <= '9')) return parseNumber();
          throw error("unexpected character '" + c + "'");
      }
    }

    private Map<String, Object> parseObject() {
      Map<String, Object> object = new LinkedHashMap<>();
      at++;
      skipWhitespace();
      if (peek() == '}') {
        at++;
        return object;
      }
      while (true) {
        skipWhitespace();
        if (peek() != '"') throw error("expected a string key");
        String key = parseString();
        skipWhitespace();
        expect(':');
        object.put(key, parseValue());
        skipWhitespace();
        if (peek() == ',') {
          at++;
          continue;
        }
        expect('}');
        return object;
      }
    }

    private List<Object> parseArray() {
      List<Object> array = new ArrayList<>();
      at++;
      skipWhitespace();
      if (peek() == ']') {
        at++;
        return array;
      }
      while (true) {
        array.add(parseValue());
        skipWhitespace();
        if (peek() == ',') {
          at++;
          continue;
        }
        expect(']');
        return array;
      }
    }

    private String parseString() {
      at++;
      StringBuilder out = new StringBuilder();
      while (true) {
        if (at >= text.length()) throw error("unterminated string");
        char c = text.charAt(at++);
        if (c == '"') return out.toString();
        if (c < 0x20) throw error("raw control character in a string");
        if (c != '\\') {
          out.append(c);
          continue;
        }
        if (at >= text.length()) throw error("unterminated escape");
        char escape = text.charAt(at++);
        switch (escape) {
          case '"', '\\', '/' -> out.append(escape);
          case 'b' -> out.append('\b');
          case 'f' -> out.append('\f');
          case 'n' -> out.append('\n');
          case 'r' -> out.append('\r');
          case 't' -> out.append('\t');
          case 'u' -> {
            if (at + 4 > text.length()) throw error("short \\u escape");
            out.append((char) Integer.parseInt(text.substring(at, at + 4), 16));
            at += 4;
          }
          default -> throw error("bad escape \\" + escape);
        }
      }
    }

    private Object parseNumber() {
      int start = at;
      if (peek() == '-') at++;
      while (at < text.length() && "0123456789".indexOf(text.charAt(at)) >= 0) at++;
      boolean integer = true;
      while (at < text.length() && "+-.eE0123456789".indexOf(text.charAt(at)) >= 0) {
        integer = false;
        at++;
      }
      String number = text.substring(start, at);
      if (!integer) return Double.valueOf(number);
      BigInteger value = new BigInteger(number);
      if (value.bitLength() < 32) return value.intValue();
      if (value.bitLength() < 64) return value.longValue();
      return value;
    }

    private Object literal(String word, Object value) {
      if (!text.startsWith(word, at)) throw error("expected " + word);
      at += word.length();
      return value;
    }

    private void skipWhitespace() {
      while (at < text.length() && " \t\r\n".indexOf(text.charAt(at)) >= 0) at++;
    }

    private char peek() {
      return at < text.length() ? text.charAt(at) : '\0';
    }

    private void expect(char c) {
      if (peek() != c) throw error("expected '" + c + "'");
      at++;
    }

    private IllegalArgumentException error(String message) {
      return new IllegalArgumentException("JSON: " + message + " at offset " + at);
    }
  }
}
