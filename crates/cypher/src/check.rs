use crate::ast::*;
use causeway_value::Result;

pub(crate) fn check_statement(_s: &Statement) -> Result<()> {
    Ok(())
}
