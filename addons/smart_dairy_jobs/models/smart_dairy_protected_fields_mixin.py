from odoo import api, models
from odoo.exceptions import AccessError

# Only Python code in this process can hold this object: a context sent over XML-RPC or JSON-RPC is
# plain data and can never carry it (the pattern of OCA queue_job's _job_edit_sentinel).
SYSTEM_EDIT = object()
SYSTEM_EDIT_KEY = "smart_dairy_system_edit"


class SmartDairyProtectedFieldsMixin(models.AbstractModel):
    """Fields only the system may change (states, results, attempts, transaction ids...).

    A model lists them in ``_protected_fields``. A raw ``write`` or ``create`` that sets one is
    refused, whoever calls it and whatever the ACLs allow; the model's own methods change them
    through :meth:`_system_write` / :meth:`_system_create`, or as superuser (``sudo()``), which no
    RPC caller can be. On create, a protected field may only be given its default value (forms send
    defaults).
    """

    _name = "smart_dairy.protected.fields.mixin"
    _description = "Fields only the system may change"
    _protected_fields = ()  # field names, or "__all__": every field (records only the system writes)

    def _protected(self, names):
        if self._protected_fields == "__all__":
            return set(names) & set(self._fields)
        return set(names) & set(self._protected_fields)

    def _is_system_edit(self):
        return self.env.su or self.env.context.get(SYSTEM_EDIT_KEY) is SYSTEM_EDIT

    def _as_system(self):
        """This recordset, allowed to change protected fields (rights and record rules still apply)."""
        return self.with_context(**{SYSTEM_EDIT_KEY: SYSTEM_EDIT})

    def _system_write(self, vals):
        return self._as_system().write(vals)

    @api.model
    def _system_create(self, vals_list):
        return self._as_system().create(vals_list).with_env(self.env)

    def _refuse_protected(self, names):
        raise AccessError(self.env._(
            "%(fields)s of %(model)s are set by the system, never written directly: use the actions "
            "the record offers.",
            fields=", ".join(sorted(names)), model=self._description))

    @api.model_create_multi
    def create(self, vals_list):
        if self._protected_fields and not self._is_system_edit():
            given = set()
            for vals in vals_list:
                for name in self._protected(vals):
                    field = self._fields[name]
                    default = field.convert_to_cache(field.default(self) if field.default else False, self)
                    if field.convert_to_cache(vals[name], self, validate=False) != default:
                        given.add(name)
            if given:
                self._refuse_protected(given)
        return super().create(vals_list)

    def write(self, vals):
        if self._protected_fields and not self._is_system_edit():
            touched = self._protected(vals)
            if touched:
                self._refuse_protected(touched)
        return super().write(vals)
