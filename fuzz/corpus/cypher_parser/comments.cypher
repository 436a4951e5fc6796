MATCH (n) // line comment
/* block
 comment */ RETURN n